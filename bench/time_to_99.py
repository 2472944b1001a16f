"""Seconds from the shell to a finished `python -m core.train --preset fast` with a
test accuracy >= 99.0%, phase by phase: start-up (interpreter, imports, provenance,
TensorBoard writer, data) to the first training step, the data load within it, each
epoch's training and scoring, the final scoring, and the reports; then the median
over the runs and the share of the wall time spent scoring.

    python -m bench.time_to_99 [--preset fast] [--repeat 3] [--seed 0 ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 12.0


def one_run(preset: str, seed: int | None, runs_dir: str, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "core.train", "--preset", preset, "--runs-dir", runs_dir, *extra]
    if seed is not None:
        command += ["--seed", str(seed)]
    started = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"core.train failed: {out.stderr.strip().splitlines()[-1:]}")
    run_dir = Path(out.stdout.strip().splitlines()[0])
    timings = json.loads((run_dir / "status.json").read_text())["timings"]
    summary = json.loads((run_dir / "evaluation.json").read_text())["summary"]
    with open(run_dir / "metrics.csv") as f:
        epochs = [(float(r["epoch_seconds"]) - float(r["scoring_seconds"]), float(r["scoring_seconds"]))
                  for r in csv.DictReader(f)]
    scoring = sum(s for _, s in epochs) + timings["evaluation_s"]
    return {"wall": wall, "startup": timings["startup_s"], "data": timings["data_load_s"], "epochs": epochs,
            "final": timings["evaluation_s"], "scoring": scoring, "test_acc": summary["test_acc"],
            # what is left: checkpoints, TensorBoard, status.json, the interpreter's exit
            "rest": wall - timings["startup_s"] - sum(t + s for t, s in epochs) - timings["evaluation_s"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="fast")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, nargs="*", default=[None], help="seeds to run (default: the preset's)")
    args, extra = p.parse_known_args()
    walls, reached = [], True
    with tempfile.TemporaryDirectory() as runs_dir:
        for seed in args.seed:
            for i in range(args.repeat):
                r = one_run(args.preset, seed, runs_dir, extra)
                walls.append(r["wall"])
                reached &= r["test_acc"] >= 0.99
                epochs = " + ".join(f"epoch {n} {t:.1f} train / {s:.2f} score"
                                    for n, (t, s) in enumerate(r["epochs"], 1))
                print(f"seed {seed if seed is not None else 'preset'} run {i + 1}: {r['wall']:.1f} s wall = "
                      f"start-up {r['startup']:.1f} (data {r['data']:.1f}) | {epochs} | final scoring "
                      f"{r['final']:.2f} | rest {r['rest']:.1f}; scoring {r['scoring'] / r['wall']:.0%} of the "
                      f"wall; test accuracy {r['test_acc']:.2%}", flush=True)
    median = statistics.median(walls)
    print(f"median {median:.1f} s over {len(walls)} runs (target <= {TARGET_S:.0f} s): "
          f"{'met' if median <= TARGET_S else 'MISSED'}; every run >= 99.0%: {'yes' if reached else 'NO'}")


if __name__ == "__main__":
    main()
