"""`python -m core.train [options]`: one training run, start to finish, in its
own run directory (see core.runs.run_process). Prints the run directory first.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.engine.trainer import resolve_device
from core.runs.command_line import OneLineParser, add_train_options, config_from_args, fail
from core.runs.evaluation_record import summary_line
from core.runs.run_process import run_training
from core.runs.snapshots import SNAPSHOT_BUDGET_BYTES
from core.runs.store import DEFAULT_RUNS_DIR, RunStoreError, read_json, run_path


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.train", description="Train an MNIST model into a new run directory.")
    add_train_options(parser)
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), help="where run directories go")
    parser.add_argument("--run-id", help=argparse.SUPPRESS)  # a folder reserved by a launcher
    parser.add_argument("--queue-limit", type=int, default=0,
                        help="wait until fewer than N runs in the store are training (0 = start now)")
    parser.add_argument("--snapshot-budget-mb", type=float, default=SNAPSHOT_BUDGET_BYTES / 2**20,
                        help="disk for the epochs/ weights (thinned evenly above it, keeping first, best, last)")
    parser.add_argument("--address", help="train on this Ray cluster (else $RAY_ADDRESS; else here, without Ray); "
                                          "the runs folder must be one its nodes share")
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    address = args.address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address is None:  # on a cluster, the node that takes the run checks its own device
            resolve_device(cfg.device)
    except RuntimeError as e:
        fail(str(e))
    if args.run_id is not None:
        try:
            run_path(Path(args.runs_dir), args.run_id)
        except RunStoreError as e:
            fail(f"invalid option --run-id: {e}")
    budget = int(args.snapshot_budget_mb * 2**20)
    if address is not None:
        run_dir = on_cluster(cfg, Path(args.runs_dir), args.run_id, address, budget)
    else:
        run_dir = run_training(cfg, Path(args.runs_dir), show_bar=sys.stderr.isatty(), run_id=args.run_id,
                               queue_limit=args.queue_limit, snapshot_budget=budget)
    status = read_json(run_dir / "status.json")
    if status["state"] == "failed":
        print(status["error"], file=sys.stderr)
        return 2
    summary = read_json(run_dir / "evaluation.json")["summary"] if (run_dir / "evaluation.json").exists() else {}
    if summary:
        print(f"{status['state']}: {summary_line(summary)}", file=sys.stderr)
    return 0 if status["state"] == "completed" else 1


def on_cluster(cfg, runs_dir: Path, run_id: str | None, address: str, budget: int) -> Path:
    """The run trained as one task on the Ray cluster at `address`; its folder is made
    here (the store is shared), so a connection that fails is recorded in it."""
    from core.runs.liveness import now_iso
    from core.runs.store import new_run_id, write_status
    from core.runs.sweeps.driver import check_address
    from core.runs.sweeps.plan import SweepError
    from core.runs.sweeps.ray_extra import RAY_INSTALL, ray_installed

    if not ray_installed():
        fail(f"python -m core.train: --address needs Ray, which is not installed: {RAY_INSTALL}")
    try:
        check_address(address)
    except SweepError as e:
        fail(f"python -m core.train: error: {e}")
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_dir = run_path(runs_dir, run_id or new_run_id(cfg.name or cfg.preset or cfg.model))
    run_dir.mkdir(exist_ok=True)
    print(run_dir, flush=True)
    write_status(run_dir, state="queued", pid=None, launched_at=now_iso(), cluster=address)
    from core.runs.sweeps.ray_tune import train_on_cluster  # Ray only once a run goes to a cluster

    try:
        train_on_cluster(cfg.to_dict(), runs_dir, run_dir.name, address, budget)
    except SweepError as e:
        write_status(run_dir, state="failed", error=str(e), ended_at=now_iso())
    except Exception as e:  # the task itself failed on the cluster (its run says why when it started)
        status = read_json(run_dir / "status.json")
        if status.get("state") in ("queued", "running"):
            write_status(run_dir, state="failed", error=f"on the cluster: {type(e).__name__}: {str(e)[:300]}",
                         ended_at=now_iso())
    return run_dir


if __name__ == "__main__":
    code = main()
    # Everything is on disk by now (each file written atomically, TensorBoard closed):
    # skip the interpreter's teardown of torch and its threads, over a second here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
