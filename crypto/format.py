"""Moved to crypto.age.format, and the base64 helpers to crypto.encoding (this re-export
remains until every importer uses the new paths)."""

from crypto.age.format import *  # noqa: F403
from crypto.encoding import b64decode, b64encode  # noqa: F401
