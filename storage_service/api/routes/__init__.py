"""One router per resource; storage_service.app includes them all (add new ones there)."""
