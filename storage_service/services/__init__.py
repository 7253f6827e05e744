"""Business logic of the storage service, one module per concern; routes stay thin."""
