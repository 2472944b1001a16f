"""Adapting the default model to synthetic writers: held-out accuracy, MNIST cost, seconds.

    MNIST_DATA_DIR=../shared/data python -m bench.adapt_writers [--run PARENT] [--taught 5] [--other 20]

Each writer of tests/writers.py writes `taught + other` samples of every digit
into a handwriting set; `python -m core.adapt --holdout other/(taught+other)`
runs as a whole process (its seconds are the wall time from the shell) and
teaches `taught` of each digit, and the figures are the run's own: the parent's
and the adapted model's accuracy on the writer's other digits, MNIST test before
and after.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.runs.files import read_json  # noqa: E402
from core.runs.handwriting_sets import HandwritingSet  # noqa: E402
from core.runs.store import DEFAULT_MODEL_DIR  # noqa: E402
from tests.writers import WRITERS, writer_samples  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=str(DEFAULT_MODEL_DIR))
    p.add_argument("--taught", type=int, default=5, help="samples of each digit taught")
    p.add_argument("--other", type=int, default=20, help="samples of each digit held out and scored")
    args = p.parse_args()
    per_digit = args.taught + args.other
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'writer':<12} {'parent':>8} {'adapted':>8} {'errors':>9} {'MNIST before':>13} {'after':>7} "
              f"{'drop':>6} {'seconds':>8}")
        for seed, (writer, habits) in enumerate(WRITERS.items()):
            hw = HandwritingSet.create(writer, Path(tmp) / "sets", canvas=(280, 280))
            for digit, rgba in writer_samples(habits, per_digit, seed=100 + seed):
                hw.add(digit, rgba)
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "core.adapt", "--run", args.run, "--handwriting", str(hw.path),
                                  "--runs-dir", str(Path(tmp) / "runs"), "--holdout", str(args.other / per_digit)],
                                 capture_output=True, text=True, check=True)
            seconds = time.perf_counter() - started
            s = read_json(Path(out.stdout.splitlines()[0]) / "status.json")["summary"]
            n = 10 * args.other
            errors = (round((1 - s["parent_handwriting_acc"]) * n), round((1 - s["handwriting_acc"]) * n))
            print(f"{writer:<12} {s['parent_handwriting_acc']:8.1%} {s['handwriting_acc']:8.1%} "
                  f"{errors[0]:>4}->{errors[1]:<4} {s['parent_test_acc']:13.2%} {s['test_acc']:7.2%} "
                  f"{(s['parent_test_acc'] - s['test_acc']) * 100:6.2f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
