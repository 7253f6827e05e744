"""CPU time each part of the stack spent during the run, read from /proc.

Wall-clock rates on a shared 2-core machine say more about the neighbours than about
camvault; CPU seconds per acknowledged recording do not. A part is a process tree (the
storage service's uvicorn workers, PostgreSQL's backends): the user + system time of its
live processes plus what its processes' reaped children used (``cutime``/``cstime``).
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, own + reaped children's CPU seconds) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / TICK


def tree_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (and the children they reaped)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            s = _stat(int(entry.name))
            if s is not None:
                stats[int(entry.name)] = s
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo += [p for p, (ppid, _) in stats.items() if ppid == pid]
    return total


def sample(parts: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each named part (a list of root pids), and of this process."""
    out = {name: sum(tree_seconds(pid) for pid in pids) for name, pids in parts.items()}
    t = os.times()
    out["harness"] = t.user + t.system
    return out
