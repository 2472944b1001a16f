"""`python -m core.adapt --run PARENT_RUN_DIR --handwriting SET_DIR [--runs-dir DIR] [--name NAME]
[--holdout FRACTION]`: a new run fine-tuned from a parent's weights on one person's digits.

Prints the new run directory first, then, when it completes, the parent's and the
adapted model's accuracy on the person's held-out digits and on MNIST's test set.

`--stream [--teach misread|all]`: learning as you correct, measured. The set's
images in the order of their file names, each read by the current model and
then taught as Draw's clicks teach it (core.runs.learning_loops); one JSON line
per image on stdout, then a summary line. `--follow` is what Draw starts: the
run learns each digit added to the set until it has been idle a while.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.engine.data import DataError
from core.engine.handwriting import HandwritingDataError, read_handwriting
from core.runs.adaptation_job import AdaptationJob
from core.runs.checkpoint import CheckpointError
from core.runs.command_line import OneLineParser, fail
from core.runs.handwriting_sets import HandwritingError
from core.runs.learning_loops import follow, stream
from core.runs.learning_run import LearningRun
from core.runs.run_process import run_training
from core.runs.store import DEFAULT_MODEL_DIR, DEFAULT_RUNS_DIR, RunStoreError, new_run_id, read_json, run_path


def holdout_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 0.9:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 0.9 (the share of each digit held out)")
    return value


def result_lines(summary: dict) -> list[str]:
    lines = []
    if summary.get("handwriting_acc") is not None:
        lines.append(f"held-out handwriting: parent {summary['parent_handwriting_acc']:.2%} -> adapted "
                     f"{summary['handwriting_acc']:.2%}")
    else:
        lines.append("held-out handwriting: none (--holdout 0 taught every sample; no held-out figure is claimed)")
    lines.append(f"MNIST test: parent {summary['parent_test_acc']:.2%} -> adapted {summary['test_acc']:.2%}")
    return lines


def learn_one_by_one(args) -> int:
    """--stream and --follow: a learning run (core.runs.learning_run)."""
    if args.stream and args.follow:
        fail("python -m core.adapt: --stream and --follow are two different loops; give one")
    if args.holdout not in (None, 0.0):
        fail("python -m core.adapt: --holdout does not apply to --stream or --follow: every image is read "
             "before it is taught, so every figure is on unseen digits")
    try:
        runs_dir = Path(args.runs_dir)
        run_dir = run_path(runs_dir, args.run_id or new_run_id(f"yours {Path(args.handwriting).name}"))
        mode = "stream" if args.stream else "corrections"
        run = LearningRun(run_dir, Path(args.run), Path(args.handwriting), mode=mode, data_dir=args.data_dir,
                          name=args.name)
        digits = read_handwriting(run.set.path, run.side) if args.stream else None
    except (CheckpointError, HandwritingDataError, HandwritingError, RunStoreError) as e:
        fail(f"python -m core.adapt: {e}")
    print(run_dir, file=sys.stderr if args.stream else sys.stdout, flush=True)
    if args.stream:
        stream(run, digits, args.teach)
        return 0
    os.nice(10)  # a follower learns beside the app that serves Draw: the app's answers go first
    return 0 if follow(run) in ("completed", "cancelled") else 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.adapt", description="Adapt a run's model to one person's digits.")
    parser.add_argument("--run", default=str(DEFAULT_MODEL_DIR),
                        help="parent run directory (default: the default model)")
    parser.add_argument("--handwriting", required=True, help="a handwriting set: <set>/<digit>/<image>")
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), help="where run directories go")
    parser.add_argument("--name", help="the new run's name")
    parser.add_argument("--holdout", type=holdout_fraction, default=None,
                        help="share of each digit kept aside for the honest figure (default 0.2 when every digit "
                             "has at least 5 samples, else 0)")
    parser.add_argument("--data-dir", help="data folder with MNIST/ (else $MNIST_DATA_DIR, else the per-user cache)")
    parser.add_argument("--stream", action="store_true",
                        help="read each image in file-name order with the current model, then teach it (see --teach)")
    parser.add_argument("--teach", choices=["misread", "all"], default="misread",
                        help="with --stream: teach only the images read wrong (as a person correcting), or all")
    parser.add_argument("--follow", action="store_true",
                        help="learn each digit added to the set as it lands, until idle (what Draw starts)")
    parser.add_argument("--run-id", help=argparse.SUPPRESS)  # a folder reserved by a launcher
    args = parser.parse_args(argv)
    if args.stream or args.follow:
        return learn_one_by_one(args)
    if args.name is not None and (len(args.name) > 100 or any(ord(c) < 32 for c in args.name)):
        fail("invalid option --name: at most 100 printable characters")
    try:
        if args.run_id is not None:
            run_path(Path(args.runs_dir), args.run_id)
        job = AdaptationJob(Path(args.run), Path(args.handwriting), args.holdout, name=args.name,
                            data_dir=args.data_dir)
    except (CheckpointError, HandwritingDataError, RunStoreError) as e:
        fail(f"python -m core.adapt: {e}")
    for file, why in job.writer.skipped:
        print(f"skipped {file}: {why}", file=sys.stderr)
    run_dir = run_training(job.cfg, Path(args.runs_dir), show_bar=sys.stderr.isatty(), run_id=args.run_id, job=job)
    status = read_json(run_dir / "status.json")
    if status["state"] == "failed":
        print(status["error"], file=sys.stderr)
        return 2
    if status["state"] == "completed":
        for line in result_lines(status["summary"]):
            print(line, file=sys.stderr)
    return 0 if status["state"] == "completed" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DataError as e:
        fail(f"python -m core.adapt: {e}")
