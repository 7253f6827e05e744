"""camvault clients: the camera agent, the alarm panel, the customer and operator tools and
their command groups (cli/), over one typed client per service (api/)."""
