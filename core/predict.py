"""Images in, digits out: `python -m core.predict [--run RUN_DIR] IMAGE...`
prints one JSON line per image: {"path", "digit", "confidence", "probs"}."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from core.runs.checkpoint import CheckpointError, load_model
from core.runs.command_line import OneLineParser, fail
from core.engine.preprocess import ImageError, NoDigitError, Prepared, prepare_digit
from core.runs.store import DEFAULT_MODEL_DIR


@dataclass
class Prediction:
    digit: int
    confidence: float
    probs: list[float]
    prepared: Prepared  # includes the 28x28 image the model saw


@torch.inference_mode()
def predict_prepared(model: nn.Module, prepared: Prepared) -> Prediction:
    probs = model(prepared.tensor).softmax(1)[0].numpy().astype(np.float64)
    digit = int(probs.argmax())
    return Prediction(digit, float(probs[digit]), [round(float(p), 6) for p in probs], prepared)


def predict_image(model: nn.Module, source) -> Prediction:
    """Any image source (see core.engine.preprocess.open_image) -> prediction.
    Raises NoDigitError for an image without ink, ImageError for unreadable input."""
    return predict_prepared(model, prepare_digit(source))


def model_path(run_dir: str | Path | None) -> Path:
    return Path(run_dir or DEFAULT_MODEL_DIR) / "model.pt"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.predict", description="Predict the digit in each image.")
    parser.add_argument("--run", help="run directory whose model.pt to use (default: the default model)")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)
    try:
        model, _, _ = load_model(model_path(args.run))
    except CheckpointError as e:
        fail(f"python -m core.predict: {e}")
    failures = 0
    for path in args.images:
        try:
            p = predict_image(model, Path(path))
            print(json.dumps({"path": path, "digit": p.digit, "confidence": round(p.confidence, 6), "probs": p.probs}))
        except NoDigitError as e:
            print(json.dumps({"path": path, "digit": None, "confidence": None, "probs": None, "error": str(e)}))
        except (ImageError, OSError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
