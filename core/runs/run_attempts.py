"""A run started again in its own folder (a sweep trial whose node was lost): what the
earlier attempt left is set aside under `attempts/<n>/`, and the status says which
attempt this is and why, so the folder tells what happened and nothing runs twice in it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.runs.liveness import HEARTBEAT_EVERY_S, HEARTBEAT_STALE_S, is_alive, now_iso
from core.runs.states import LIVE_STATES
from core.runs.store import read_json, write_status

ATTEMPTS_DIR = "attempts"


class StillRunning(RuntimeError):
    """The earlier attempt's process still lives: the folder is not ours to take."""


def set_aside_earlier_attempt(run_dir: Path, reason: str, wait_s: float = HEARTBEAT_STALE_S + 2 * HEARTBEAT_EVERY_S,
                              poll_s: float = 1.0) -> int:
    """This attempt's number (1 for a fresh folder). Before a second, the earlier
    attempt must be dead (its process gone on this host, its heartbeat stale elsewhere:
    waited for up to `wait_s`); its files move to attempts/<n>/."""
    run_dir = Path(run_dir)
    status_path = run_dir / "status.json"
    if not status_path.exists():
        return 1
    deadline = time.monotonic() + wait_s
    while True:
        try:
            status = read_json(status_path)
        except (OSError, ValueError):
            status = {}
        if not is_alive(status):
            break
        if time.monotonic() > deadline:
            raise StillRunning(f"{run_dir.name}'s earlier attempt (pid {status.get('pid')} on "
                               f"{status.get('host')}) is still running")
        time.sleep(poll_s)
    earlier = status.get("attempt") if isinstance(status.get("attempt"), int) else 1
    aside = run_dir / ATTEMPTS_DIR / str(earlier)
    aside.mkdir(parents=True, exist_ok=True)
    for entry in run_dir.iterdir():
        if entry.name != ATTEMPTS_DIR:
            os.replace(entry, aside / entry.name)
    if status.get("state") in LIVE_STATES:  # it never said how it ended: it did not end on its own
        write_status(aside, state="failed", error="its process was lost before the run ended", ended_at=now_iso())
    write_status(run_dir, attempt=earlier + 1, restarted=reason, earlier_attempt=f"{ATTEMPTS_DIR}/{earlier}")
    return earlier + 1
