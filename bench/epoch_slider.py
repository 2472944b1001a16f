"""What one epoch-slider drag costs on the server: load that epoch's weights, then
what Filters shows (kernels and feature maps of one digit), what Draw shows (a
prediction) and what Evaluate reads (the epoch's cached test report). Scoring an
epoch is paid once, when the run ends; it is timed here too, for comparison.

    python -m bench.epoch_slider --run RUN_DIR [--drags 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.predict_latency import canvas_seven
from core.engine.data import normalize
from core.engine.datasets import load_test_set
from core.engine.introspect import conv_kernels, feature_maps
from core.engine.prediction import predict_image
from core.runs.checkpoint import load_model
from core.runs.evaluation_record import epoch_report, epoch_report_path
from core.runs.snapshots import list_snapshots, snapshot_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a run directory with epochs/")
    p.add_argument("--drags", type=int, default=3, help="passes over every kept epoch")
    args = p.parse_args()
    run_dir = Path(args.run)
    epochs = list_snapshots(run_dir)
    if not epochs:
        raise SystemExit(f"{run_dir} kept no epochs")
    cfg = load_model(snapshot_path(run_dir, epochs[0]))[1]
    test = load_test_set(cfg.dataset, cfg.data_dir, cfg.input_side())
    x = normalize(test.images[:1])
    scoring = []
    for epoch in epochs:
        if not epoch_report_path(run_dir, epoch).exists():
            started = time.perf_counter()
            epoch_report(run_dir, epoch, test)
            scoring.append(time.perf_counter() - started)
    canvas, drags = canvas_seven(), []
    for _ in range(args.drags):
        for epoch in epochs:
            started = time.perf_counter()
            model = load_model(snapshot_path(run_dir, epoch))[0]
            conv_kernels(model)
            feature_maps(model, x)
            predict_image(model, canvas, cfg.input_side())
            epoch_report(run_dir, epoch, test)  # cached: only read
            drags.append(time.perf_counter() - started)
    drags.sort()
    print(f"{run_dir.name}: {len(epochs)} kept epochs of {cfg.model} ({cfg.widths}), {len(test.labels):,} test digits")
    if scoring:
        print(f"scoring an epoch once (at the end of the run): median {statistics.median(scoring):.2f} s")
    print(f"one drag (load weights, kernels, feature maps, a prediction, the cached report): median "
          f"{statistics.median(drags) * 1000:.0f} ms, max {drags[-1] * 1000:.0f} ms over {len(drags)} "
          f"(target < 1 s; the browser adds the figures' drawing)")


if __name__ == "__main__":
    main()
