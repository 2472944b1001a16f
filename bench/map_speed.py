"""The map's speed and quality on the default model's 5,000-digit sample, 2 cores:
the first map per method in a fresh process (python's start, imports, numba's
compilation from its cache or, with --cold, from nothing), a kept map opened, and a
drawing placed; with each layout's 10-nearest-neighbour vote (how well it keeps the
classes apart).

    python -m bench.map_speed [--cold] [--methods umap tsne pca]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIRST_MAP = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np
from pathlib import Path
from core.engine.datasets import load_test_set
from core.engine.projection import MapSettings, nearest
from core.runs.maps import model_map
test = load_test_set("mnist")
loaded = time.perf_counter()
made = model_map(Path({model!r}), test, MapSettings({method!r}))
done = time.perf_counter()
index, _ = nearest(made.layout, made.layout, 11)
votes = [np.bincount(made.labels[row[1:]], minlength=10).argmax() for row in index]
print(json.dumps({{"total": done - started, "after_data": done - loaded,
                   "vote": float(np.mean(np.asarray(votes) == made.labels))}}))
"""


def first_map(method: str, cold: bool) -> dict:
    """A fresh process makes the default model's map into a scratch copy of its folder."""
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "default-model"
        shutil.copytree(ROOT / "artifacts" / "default-model", run, ignore=shutil.ignore_patterns("maps"))
        env = dict(os.environ)
        if cold:  # numba compiles umap-learn's functions from nothing, as on a first install
            env["NUMBA_CACHE_DIR"] = str(Path(scratch) / "numba-cache")
        out = subprocess.run([sys.executable, "-c", FIRST_MAP.format(root=str(ROOT), model=str(run / "model.pt"),
                                                                     method=method)],
                             capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def kept_and_placed(drawings: int) -> tuple[float, list[float]]:
    """(seconds to open a kept map and build its figure, seconds per drawing placed)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from core.engine.datasets import load_test_set
    from core.engine.features import features_and_scores
    from core.engine.preprocess import prepare_digit
    from core.engine.projection import MapSettings, nearest, place
    from core.predict import model_path
    from core.runs.checkpoint import load_model
    from core.runs.maps import model_map, neighbour_pool
    from dashboard.map_figures import map_figure
    from tests.engine.test_predict import STROKES, canvas

    torch.set_num_threads(1)  # as the dashboard's server runs
    test = load_test_set("mnist")
    model, cfg, _ = load_model(model_path(None))
    model_map(model_path(None), test, MapSettings("umap"))  # kept from here on
    started = time.perf_counter()
    made = model_map(model_path(None), test, MapSettings("umap"))
    map_figure(made).to_json()
    opened = time.perf_counter() - started
    map_features = features_and_scores(model, test.images[torch.as_tensor(made.indices)])[0].numpy()
    pool_images, _ = neighbour_pool(cfg)
    pool = features_and_scores(model, pool_images)[0].numpy()
    times = []
    for i in range(drawings):
        prepared = prepare_digit(canvas(list(STROKES)[i % len(STROKES)]), cfg.input_side())
        started = time.perf_counter()
        features = features_and_scores(model, torch.from_numpy(prepared.laid_out[None]))[0].numpy()
        place(features, map_features, made.layout)
        nearest(features, pool, 8)
        times.append(time.perf_counter() - started)
    return opened, times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["umap", "tsne", "pca"])
    p.add_argument("--cold", action="store_true", help="also UMAP with an empty numba cache")
    p.add_argument("--drawings", type=int, default=50)
    args = p.parse_args()
    runs = [(m, False) for m in args.methods] + ([("umap", True)] if args.cold and "umap" in args.methods else [])
    print("first map of 5,000 digits, fresh process | total s | after the data s | 10-NN vote on the map")
    for method, cold in runs:
        r = first_map(method, cold)
        label = method + (" (empty numba cache)" if cold else "")
        print(f"{label:34} | {r['total']:6.1f} | {r['after_data']:6.1f} | {100 * r['vote']:.1f}%")
    opened, placed = kept_and_placed(args.drawings)
    placed_ms = sorted(1000 * t for t in placed)
    print(f"kept map opened and its figure built: {1000 * opened:.0f} ms")
    print(f"a drawing placed (its features, its place, its 8 nearest of 10,000 training digits), "
          f"{len(placed)} drawings: p50 {statistics.median(placed_ms):.1f} ms, "
          f"p95 {placed_ms[int(0.95 * (len(placed_ms) - 1))]:.1f} ms")


if __name__ == "__main__":
    main()
