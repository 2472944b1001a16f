"""Scoring throughput (images/s) by batch size and thread count, for the fast preset's
model and the default model's architecture: where EVAL_BATCH comes from.

    python -m bench.score_throughput
"""

from __future__ import annotations

import time

import torch

import core.engine.scoring as scoring
from core.engine.config import from_preset
from core.engine.models import build_model

IMAGES = 10_000


def images_per_second(model, images: torch.Tensor, repeat: int = 3) -> float:
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        scoring._predict_scores(model, images, torch.device("cpu"), tta=False)
        best = max(best, len(images) / (time.perf_counter() - started))
    return best


def main() -> None:
    images = torch.randint(0, 256, (IMAGES, 28, 28), dtype=torch.uint8)
    for preset in ("fast", "handwriting"):
        model = build_model(from_preset(preset)).eval().to(memory_format=torch.channels_last)
        for threads in range(1, scoring.SCORING_THREADS + 1):
            torch.set_num_threads(threads)
            figures = []
            for batch in (64, 128, 256, 512, 1000):
                scoring.EVAL_BATCH = batch
                figures.append(f"{batch}: {images_per_second(model, images):,.0f}")
            print(f"{preset}, {threads} thread(s), images/s by batch size: {', '.join(figures)}", flush=True)


if __name__ == "__main__":
    main()
