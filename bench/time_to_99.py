"""Wall seconds from starting `python -m core.train --preset fast` to a test
accuracy >= 99.0%, split into start-up (interpreter + imports), data load,
training and evaluation.

    python bench/time_to_99.py [--device cpu] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(device: str, runs_dir: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "core.train", "--preset", "fast", "--device", device,
                          "--runs-dir", runs_dir], cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    run_dir = Path(out.stdout.strip().splitlines()[0])
    timings = json.loads((run_dir / "status.json").read_text())["timings"]
    summary = json.loads((run_dir / "evaluation.json").read_text())["summary"]
    rest = wall - sum(timings.values())
    return {"wall": wall, "startup": rest, **timings, "test_acc": summary["test_acc"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as runs_dir:
        for i in range(args.repeat):
            r = one_run(args.device, runs_dir)
            verdict = "reached" if r["test_acc"] >= 0.99 else "MISSED"
            print(f"run {i + 1}: {r['wall']:.1f} s wall = start-up {r['startup']:.1f} + data load "
                  f"{r['data_load_s']:.1f} + training {r['train_s']:.1f} + evaluation {r['evaluation_s']:.1f}; "
                  f"test accuracy {r['test_acc']:.2%} ({verdict} 99.0%; target <= 20 s on this CPU)")


if __name__ == "__main__":
    main()
