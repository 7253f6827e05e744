"""Transparency-log primitives: RFC 9162 Merkle trees and proofs (:mod:`~crypto.tlog.merkle`),
C2SP signed notes and checkpoints (:mod:`~crypto.tlog.note`). Both re-exported here.
"""

from crypto.tlog import merkle, note
from crypto.tlog.merkle import *  # noqa: F403
from crypto.tlog.note import *  # noqa: F403

__all__ = [*merkle.__all__, *note.__all__]
