"""Moved to crypto.age.format (this re-export remains until every importer uses the new path)."""

from crypto.age.format import *  # noqa: F403
from crypto.age.format import b64decode, b64encode  # noqa: F401
