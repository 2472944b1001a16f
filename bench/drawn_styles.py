"""Drawn handwriting styles: accuracy per brush, placement and style, and stroke widths.

How a model reads digits as people write them on the Draw page's canvas, for
every style x placement x brush width, and how thick the strokes come out in
the 28x28 image the model sees, beside MNIST's.

    python -m bench.drawn_styles [--run RUN_DIR] [--brushes 4 8 12 18 25 35 40]

The styles and placements are tests/handwriting.py's; each drawing is rendered
the way the canvas hands it back (280x280 RGBA) and goes through the drawing
path (core.engine.preprocess) and the model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine.mnist import load_mnist  # noqa: E402
from core.engine.prediction import predict_image  # noqa: E402
from core.engine.strokes import stroke_width  # noqa: E402
from core.predict import model_path  # noqa: E402
from core.runs.checkpoint import load_model  # noqa: E402
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, digit_of, render  # noqa: E402

BRUSHES = (4, 8, 12, 18, 25, 35, 40)
MNIST_SAMPLE = 2000


def mnist_widths(n: int) -> np.ndarray:
    images = load_mnist().test_images[:n].numpy()
    return np.array([stroke_width(im) for im in images])


def accuracy_line(label: str, hits: list[bool], width: int) -> str:
    return f"  {label:<{width}} {sum(hits):>3}/{len(hits):<3} {sum(hits) / len(hits):6.1%}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="run directory (default: the default model)")
    p.add_argument("--brushes", type=int, nargs="+", default=list(BRUSHES), help="brush widths in canvas px")
    args = p.parse_args()
    path = model_path(args.run)
    model, _, _ = load_model(path)

    started = time.perf_counter()
    results = []  # (style, placement, brush, predicted, confidence, width28)
    for style, strokes in STYLES.items():
        for placement, box in PLACEMENTS.items():
            drawn = canvas_strokes(strokes, box)
            for brush in args.brushes:
                pred = predict_image(model, render(drawn, brush))
                results.append((style, placement, brush, pred.digit, pred.confidence,
                                stroke_width(pred.prepared.laid_out)))
    elapsed = time.perf_counter() - started

    print(f"model {path}: {len(STYLES)} styles x {len(PLACEMENTS)} placements x {len(args.brushes)} brushes "
          f"= {len(results)} drawings ({elapsed:.1f} s)")

    by = {"brush": defaultdict(list), "placement": defaultdict(list), "style": defaultdict(list)}
    for style, placement, brush, predicted, _, _ in results:
        hit = predicted == digit_of(style)
        by["brush"][brush].append(hit)
        by["placement"][placement].append(hit)
        by["style"][style].append(hit)
    width = max(len(k) for k in [*STYLES, *PLACEMENTS])
    for name, groups in by.items():
        print(f"\naccuracy per {name}")
        for key, hits in groups.items():
            print(accuracy_line(str(key), hits, width))
    everything = [predicted == digit_of(style) for style, _, _, predicted, _, _ in results]
    print()
    print(accuracy_line("overall", everything, width))

    misses = [r for r in results if r[3] != digit_of(r[0])]
    print(f"\nmisses ({len(misses)})")
    for style, placement, brush, predicted, confidence, _ in misses:
        print(f"  {style}/{placement}/{brush} -> {predicted} ({confidence:.0%})")

    ref = mnist_widths(MNIST_SAMPLE)
    lo, med, hi = np.percentile(ref, [5, 50, 95])
    print(f"\nstroke width in the 28x28 image (px), median over the styles [min-max]; "
          f"MNIST test ({MNIST_SAMPLE:,} digits): median {med:.2f}, 5-95% {lo:.2f}-{hi:.2f}")
    names = list(PLACEMENTS)
    print(f"  {'brush':>5}  " + "  ".join(f"{n:>20}" for n in names))
    for brush in args.brushes:
        cells = []
        for placement in names:
            w = [r[5] for r in results if r[1] == placement and r[2] == brush]
            flag = "" if lo <= statistics.median(w) <= hi else " *"
            cells.append(f"{statistics.median(w):5.2f} [{min(w):.2f}-{max(w):.2f}]{flag:2}")
        print(f"  {brush:>5}  " + "  ".join(f"{c:>20}" for c in cells))
    print("  (* = median outside MNIST's 5-95% range)")


if __name__ == "__main__":
    main()
