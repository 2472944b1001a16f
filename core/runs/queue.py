"""A limit on how many runs train at once in one run store.

Runs launched from the dashboard (possibly from several tabs) wait in state
`queued` until fewer than the limit are running. A file lock makes "count the
running runs, then claim a slot" one step, so two waiting runs never both take
the last slot. On 2 cores, two runs at once already share the CPU.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Callable

from core.runs.liveness import is_alive
from core.runs.store import read_json, write_status

DEFAULT_LIMIT = max(1, (os.cpu_count() or 2) // 2)
POLL_S = 1.0


def running_runs(runs_dir: Path, exclude: Path | None = None) -> int:
    count = 0
    for status_path in Path(runs_dir).glob("*/status.json"):
        if exclude is not None and status_path.parent == exclude:
            continue
        try:
            status = read_json(status_path)
        except (OSError, ValueError):
            continue
        # A run holds a slot while its owner lives (core.runs.liveness): a dead process, a
        # reused pid or another host's stale heartbeat frees it.
        if isinstance(status, dict) and status.get("state") == "running" and is_alive(status):
            count += 1
    return count


def wait_for_slot(runs_dir: Path, run_dir: Path, limit: int, should_stop: Callable[[], bool]) -> bool:
    """Block until this run may start, then mark it running. False if asked to stop first."""
    lock_path = Path(runs_dir) / ".queue.lock"
    while True:
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if limit <= 0 or running_runs(runs_dir, exclude=Path(run_dir)) < limit:
                write_status(run_dir, state="running")
                return True
        if should_stop():
            return False
        time.sleep(POLL_S)
