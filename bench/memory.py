"""Peak resident memory of a seed-cnn training run (one epoch, as a child process).

    python bench/memory.py [--epochs 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as runs_dir:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core.train", "--preset", "seed-cnn", "--epochs", str(args.epochs),
                        "--device", args.device, "--runs-dir", runs_dir], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
    print(f"seed-cnn, {args.epochs} epoch(s), {wall:.0f} s: peak resident memory {peak_mb:.0f} MB "
          f"(target <= 1536 MB)")


if __name__ == "__main__":
    main()
