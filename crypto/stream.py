"""Moved to crypto.age.stream (this re-export remains until every importer uses the new path)."""

from crypto.age.stream import *  # noqa: F403
