"""Prediction latency: image path + forward pass for one 280x280 RGBA canvas
image with the default model, p50 and p95 over 200 calls.

    python bench/predict_latency.py [--run RUN_DIR] [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine.prediction import predict_image  # noqa: E402
from core.predict import model_path  # noqa: E402
from core.runs.checkpoint import load_model  # noqa: E402


def canvas_seven() -> np.ndarray:
    """A 7 drawn like a user would: white strokes on a transparent 280x280 canvas."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(70, 60), (200, 60), (120, 230)], fill=(255, 255, 255, 255), width=18)
    return np.asarray(img)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="run directory (default: the default model)")
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    model, _, _ = load_model(model_path(args.run))
    canvas = canvas_seven()
    for _ in range(10):
        predict_image(model, canvas)
    times = []
    for _ in range(args.calls):
        started = time.perf_counter()
        prediction = predict_image(model, canvas)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(0.95 * len(times)) - 1]
    print(f"{args.calls} calls, canvas 280x280 RGBA -> digit {prediction.digit} "
          f"({prediction.confidence:.1%}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms (target p95 <= 10 ms)")


if __name__ == "__main__":
    main()
