"""Moved to crypto.age.bech32 (this re-export remains until every importer uses the new path)."""

from crypto.age.bech32 import *  # noqa: F403
