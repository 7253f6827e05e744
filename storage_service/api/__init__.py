"""HTTP layer of the storage service: thin routes calling storage_service.services."""
