"""Starting and stopping background work from the app: training runs and sweeps.

The app never trains in its own process: it reserves a folder (a run's, a sweep's),
starts `python -m core.train ...` or `python -m core.sweep ...` there as a detached
child and from then on only reads that folder, so the work survives a page reload
or a closed tab. Stopping is the same for both: the file `cancel` in the folder,
which the owner watches wherever it runs, and SIGTERM only to this host's process
that the folder's record names (core.runs.liveness).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.engine.config import TrainConfig, validate
from core.engine.data import DATA_DIR_ENV, resolve_data_dir
from core.runs.command_line import config_to_args, options_to_args
from core.runs.handwriting_sets import HANDWRITING_DIR_ENV, handwriting_dir_setting
from core.runs.liveness import now_iso, request_cancel, signal_owner
from core.runs.queue import DEFAULT_LIMIT
from core.runs.states import LIVE_STATES
from core.runs.store import (
    PROJECT_ROOT,
    RUNS_DIR_ENV,
    effective_state,
    new_run_id,
    read_json,
    run_path,
    runs_dir_setting,
    write_json_atomic,
    write_status,
)
from core.runs.sweeps.plan import SweepError, grid_to_args, plan
from core.runs.sweeps.record import read_record, sweep_path, sweeps_dir_for, write_record

# Runs from the app wait their turn beyond this many at once (see core.runs.queue).
QUEUE_LIMIT = DEFAULT_LIMIT


def start_detached(module: str, args: list[str], log_path: Path) -> None:
    """Start `python -m <module> <args>` in its own session (it outlives the app),
    its output going to `log_path` in the folder reserved for it."""
    with open(log_path, "wb") as log:
        subprocess.Popen([sys.executable, "-m", module, *args], cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=child_environment())


def child_environment() -> dict[str, str]:
    """This process's environment with the folder settings made absolute (the child starts
    in the project folder; a relative MNIST_DATA_DIR=data meant the app's working folder)."""
    env = {**os.environ}
    for name, value in ((DATA_DIR_ENV, os.environ.get(DATA_DIR_ENV) and resolve_data_dir()),
                        (RUNS_DIR_ENV, os.environ.get(RUNS_DIR_ENV) and runs_dir_setting()),
                        (HANDWRITING_DIR_ENV, os.environ.get(HANDWRITING_DIR_ENV) and handwriting_dir_setting())):
        if value:
            env[name] = str(Path(value).expanduser().absolute())
    return env


def cancel(folder: Path, owner: dict) -> bool:
    """Ask the work in `folder` (a run's or a sweep's), whose record is `owner`, to stop;
    True if live (or queued) work was asked.

    The request is the file `cancel` in the folder, which the owner watches wherever
    it runs: on another host of a cluster, or queued and not started yet. It is written
    for anything not yet ended, even what reads as dead (nothing is lost if it is).
    Only when the owner's identity (host + pid + start time) is this machine's live
    process is it also sent SIGTERM; a reused pid is never signalled.
    """
    if owner.get("state") not in LIVE_STATES:
        return False
    request_cancel(folder)
    if effective_state(owner) not in LIVE_STATES:
        return False
    signal_owner(owner, signal.SIGTERM)
    return True


# ---------------------------------------------------------------- runs

def launch_run(cfg: TrainConfig, runs_dir: Path, address: str | None = None) -> str:
    """Validate, reserve a run folder, start `python -m core.train` (on the Ray cluster
    at `address` when given); returns the run id."""
    validate(cfg)
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(cfg.name or cfg.preset or cfg.model)
    run_dir = run_path(runs_dir, run_id)
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", {**cfg.to_dict(), "created_at": now_iso()})
    # No pid yet: the child records its own, so the two never overwrite each other.
    write_status(run_dir, state="queued", pid=None, launched_at=now_iso())
    on_cluster = ["--address", address] if address else []
    start_detached("core.train", [*config_to_args(cfg), "--runs-dir", str(runs_dir), "--run-id", run_id,
                                  "--queue-limit", str(QUEUE_LIMIT), *on_cluster], run_dir / "train.log")
    return run_id


CLUSTER_ENV = "DIGIT_LAB_RAY_ADDRESS"


def cluster_address_setting() -> str | None:
    """The Ray cluster the app may send runs to (HOST:PORT), from $DIGIT_LAB_RAY_ADDRESS; None: train here."""
    return os.environ.get(CLUSTER_ENV) or None


def launch_adaptation(parent_dir: Path, set_dir: Path, runs_dir: Path, name: str | None = None) -> str:
    """Reserve a run folder and start `python -m core.adapt` on it; returns the run id."""
    runs_dir = Path(runs_dir).resolve()  # the child starts in the project folder
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(name or f"adapt {Path(set_dir).name}")
    run_dir = run_path(runs_dir, run_id)
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", {"name": name, "created_at": now_iso()})
    write_status(run_dir, state="queued", pid=None, launched_at=now_iso())
    args = ["--run", str(Path(parent_dir).resolve()), "--handwriting", str(Path(set_dir).resolve()),
            "--runs-dir", str(runs_dir), "--run-id", run_id]
    start_detached("core.adapt", args + (["--name", name] if name else []), run_dir / "train.log")
    return run_id


def learn_from_set(parent_dir: Path, set_dir: Path, runs_dir: Path, run_id: str | None = None) -> str:
    """Make sure a learner follows the set (`python -m core.adapt --follow`): a new run
    when `run_id` is None, else that run, started again unless its process lives (it
    is already looking at the set, so it picks the new digit up by itself)."""
    runs_dir = Path(runs_dir).resolve()  # the child starts in the project folder
    runs_dir.mkdir(parents=True, exist_ok=True)
    if run_id is None:
        run_id = new_run_id(f"yours {Path(set_dir).name}")
        run_path(runs_dir, run_id).mkdir()
    run_dir = run_path(runs_dir, run_id)
    try:
        status = read_json(run_dir / "status.json")
    except (OSError, ValueError):
        status = {}
    if isinstance(status, dict) and status.get("state") in LIVE_STATES and effective_state(status) in LIVE_STATES:
        return run_id
    write_status(run_dir, state="queued", pid=None, launched_at=now_iso())
    args = ["--run", str(Path(parent_dir).resolve()), "--handwriting", str(Path(set_dir).resolve()),
            "--runs-dir", str(runs_dir), "--run-id", run_id, "--follow"]
    start_detached("core.adapt", args, run_dir / "learn.log")
    return run_id


def cancel_run(runs_dir: Path, run_id: str) -> bool:
    """Ask a run to stop after its current batch (see `cancel`)."""
    run_dir = run_path(runs_dir, run_id)
    return cancel(run_dir, read_json(run_dir / "status.json"))


# ---------------------------------------------------------------- sweeps

def launch_sweep(grid: dict[str, list], runs_dir: Path, *, seeds: int = 1, base: dict | None = None,
                 samples: int | None = None, max_concurrent: int | None = None,
                 address: str | None = None) -> str:
    """Validate, reserve a sweep folder, start `python -m core.sweep`; returns the
    sweep id. Raises SweepError on bad input."""
    base = dict(base or {})
    plan(grid, seeds, base, samples)  # refuse a bad grid here, in the caller
    if max_concurrent is not None and (isinstance(max_concurrent, bool) or int(max_concurrent) < 1):
        raise SweepError("--max-concurrent", f"{max_concurrent!r} is not a whole number >= 1")
    runs_dir = Path(runs_dir).absolute()
    sweep_id = new_run_id("sweep " + " ".join(grid))
    sweep_dir = sweeps_dir_for(runs_dir) / sweep_id
    sweep_dir.mkdir(parents=True)
    # No pid yet: the child records its own (and the trials) as it starts.
    write_record(sweep_dir, {"id": sweep_id, "created_at": now_iso(), "launched_at": now_iso(), "state": "queued",
                             "pid": None, "error": None, "grid": grid, "seeds": [], "base": base, "trials": []})
    args = [*grid_to_args(grid), "--seeds", str(seeds), *options_to_args(base), "--runs-dir", str(runs_dir),
            "--sweep-id", sweep_id]
    if samples is not None:
        args += ["--samples", str(samples)]
    if max_concurrent is not None:
        args += ["--max-concurrent", str(max_concurrent)]
    if address:
        args += ["--address", address]
    start_detached("core.sweep", args, sweep_dir / "sweep.log")
    return sweep_id


def cancel_sweep(runs_dir: Path, sweep_id: str) -> bool:
    """Ask a sweep to stop (see `cancel`): running trials stop after their batch, the
    rest never start; a sweep driven from another host sees the flag."""
    sweep_dir = sweep_path(runs_dir, sweep_id)
    return cancel(sweep_dir, read_record(sweep_dir))
