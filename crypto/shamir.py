"""Moved to crypto.escrow.shamir (this re-export remains until every importer uses the new path)."""

from crypto.escrow.shamir import *  # noqa: F403
