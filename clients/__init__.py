"""camvault clients: the `camvault` CLI, camera agent, panel, customer and operator tools."""
