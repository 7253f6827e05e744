"""Moved to :mod:`clients.operator.release`; this name is the same module object (so that
attributes set on it, e.g. by monkeypatch, reach the code that uses them)."""

import sys

from clients.operator import release

sys.modules[__name__] = release
