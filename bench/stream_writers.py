"""Learning as you correct, on the synthetic writers: `python -m core.adapt --stream`.

    MNIST_DATA_DIR=../shared/data python -m bench.stream_writers [--per-digit 10] [--teach misread]

Each writer of tests/writers.py writes `per-digit` samples of every digit into a
handwriting set, interleaved across classes (0, 1, ..., 9, 0, 1, ...), and the
streaming command reads each with the current model before teaching it. The
figures are its summary line: the parent's errors and the stream's in each half,
rounds, seconds a round (median, p95), MNIST test before and after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.runs.handwriting_sets import HandwritingSet  # noqa: E402
from tests.writers import WRITERS, writer_samples  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-digit", type=int, default=10)
    p.add_argument("--teach", choices=["misread", "all"], default="misread")
    args = p.parse_args()
    print(f"{'writer':<12} {'parent errors':>14} {'stream errors':>14} {'rounds':>7} {'s/round':>12} "
          f"{'MNIST before':>13} {'after':>7} {'drop':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (writer, habits) in enumerate(WRITERS.items()):
            hw = HandwritingSet.create(writer, Path(tmp) / "sets", canvas=(280, 280))
            samples = list(writer_samples(habits, args.per_digit, seed=100 + seed))
            for i in range(args.per_digit):
                for digit in range(10):
                    hw.add(*samples[digit * args.per_digit + i])
            out = subprocess.run([sys.executable, "-m", "core.adapt", "--handwriting", str(hw.path), "--stream",
                                  "--teach", args.teach, "--runs-dir", str(Path(tmp) / "runs")],
                                 capture_output=True, text=True, check=True)
            s = json.loads(out.stdout.splitlines()[-1])
            drop = (s["mnist_before"] - s["mnist_after"]) * 100
            print(f"{writer:<12} {s['parent_errors_first_half']:>6} + {s['parent_errors_second_half']:<5} "
                  f"{s['errors_first_half']:>6} + {s['errors_second_half']:<5} {s['updates']:>7} "
                  f"{s['update_seconds_median'] or 0:>5.2f} / {s['update_seconds_p95'] or 0:<4.2f} "
                  f"{s['mnist_before']:13.2%} {s['mnist_after']:7.2%} {drop:6.2f}")


if __name__ == "__main__":
    main()
