"""Starting and stopping background training runs from the app.

The app never trains in its own process: it reserves a run folder, starts
`python -m core.train --run-id ...` as a detached child and from then on only
reads the run directory, so a run survives a page reload or a closed tab.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.runs.command_line import config_to_args
from core.engine.config import TrainConfig, validate
from core.runs.liveness import request_cancel, signal_owner
from core.runs.queue import DEFAULT_LIMIT
from core.runs.store import (PROJECT_ROOT, effective_state, new_run_id, now_iso, read_json, run_path,
                           write_json_atomic, write_status)


# Runs from the app wait their turn beyond this many at once (see core.runs.queue).
QUEUE_LIMIT = DEFAULT_LIMIT


def launch_run(cfg: TrainConfig, runs_dir: Path) -> str:
    """Validate, reserve a run folder, start the child; returns the run id."""
    validate(cfg)
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(cfg.name or cfg.preset or cfg.model)
    run_dir = run_path(runs_dir, run_id)
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", {**cfg.to_dict(), "created_at": now_iso()})
    # No pid yet: the child records its own, so the two never overwrite each other.
    write_status(run_dir, state="queued", pid=None, launched_at=now_iso())
    command = [sys.executable, "-m", "core.train", *config_to_args(cfg),
               "--runs-dir", str(runs_dir), "--run-id", run_id, "--queue-limit", str(QUEUE_LIMIT)]
    with open(run_dir / "train.log", "wb") as log:
        subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ})
    return run_id


def cancel_run(runs_dir: Path, run_id: str) -> bool:
    """Ask a run to stop after its current batch; True if a live (or queued) run was asked.

    The request is the file `cancel` in the run folder, which the run watches wherever
    it runs: on another host of a cluster, or queued and not started yet. It is written
    for any run not yet ended, even one that reads as dead (nothing is lost if it is).
    Only when the run's identity (host + pid + start time) is this machine's live
    process is it also sent SIGTERM; a reused pid is never signalled.
    """
    run_dir = run_path(runs_dir, run_id)
    status = read_json(run_dir / "status.json")
    if status.get("state") not in ("running", "queued"):
        return False
    request_cancel(run_dir)
    if effective_state(status) not in ("running", "queued"):
        return False
    signal_owner(status, signal.SIGTERM)
    return True
