"""tests/fuzz fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy (fixture-loaded) schemas rename the test node through
    ``node._nodeid``, which pytest 9 no longer has; give it one (display only)."""
    node = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid
