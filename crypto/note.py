"""Moved to crypto.tlog.note (this re-export remains until every importer uses the new path)."""

from crypto.tlog.note import *  # noqa: F403
