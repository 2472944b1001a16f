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
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    try:
        resolve_device(cfg.device)
    except RuntimeError as e:
        fail(str(e))
    if args.run_id is not None:
        try:
            run_path(Path(args.runs_dir), args.run_id)
        except RunStoreError as e:
            fail(f"invalid option --run-id: {e}")
    run_dir = run_training(cfg, Path(args.runs_dir), show_bar=sys.stderr.isatty(), run_id=args.run_id,
                           queue_limit=args.queue_limit, snapshot_budget=int(args.snapshot_budget_mb * 2**20))
    status = read_json(run_dir / "status.json")
    if status["state"] == "failed":
        print(status["error"], file=sys.stderr)
        return 2
    summary = read_json(run_dir / "evaluation.json")["summary"] if (run_dir / "evaluation.json").exists() else {}
    if summary:
        print(f"{status['state']}: {summary_line(summary)}", file=sys.stderr)
    return 0 if status["state"] == "completed" else 1


if __name__ == "__main__":
    code = main()
    # Everything is on disk by now (each file written atomically, TensorBoard closed):
    # skip the interpreter's teardown of torch and its threads, over a second here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
