"""Images in, digits out: `python -m core.predict [--run RUN_DIR] IMAGE...`
prints one JSON line per image: {"path", "digit", "confidence", "probs"}."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.engine.image_reading import ImageError
from core.engine.ink import NoDigitError
from core.engine.prediction import predict_image
from core.runs.checkpoint import CheckpointError, load_model
from core.runs.command_line import OneLineParser, fail
from core.runs.store import DEFAULT_MODEL_DIR


def model_path(run_dir: str | Path | None) -> Path:
    return Path(run_dir or DEFAULT_MODEL_DIR) / "model.pt"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.predict", description="Predict the digit in each image.")
    parser.add_argument("--run", help="run directory whose model.pt to use (default: the default model)")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)
    try:
        model, cfg, _ = load_model(model_path(args.run))
    except CheckpointError as e:
        fail(f"python -m core.predict: {e}")
    failures = 0
    for path in args.images:
        try:
            p = predict_image(model, Path(path), cfg.input_side())
            print(json.dumps({"path": path, "digit": p.digit, "confidence": round(p.confidence, 6), "probs": p.probs}))
        except NoDigitError as e:
            print(json.dumps({"path": path, "digit": None, "confidence": None, "probs": None, "error": str(e)}))
        except (ImageError, OSError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
