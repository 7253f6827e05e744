"""Moved to crypto.age.x25519 (this re-export remains until every importer uses the new path)."""

from crypto.age.x25519 import *  # noqa: F403
