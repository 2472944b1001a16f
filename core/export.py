"""`python -m core.export --run RUN_DIR --format onnx|state_dict [--out DIR]`: a run's
model for use outside Digit Lab (see core.runs.model_export). ONNX exports are checked
with onnxruntime against PyTorch on the 10,000 MNIST test digits; exit 1 if they
disagree, 2 on bad input."""

from __future__ import annotations

import sys
from pathlib import Path

from core.engine.data import DataError
from core.runs.command_line import OneLineParser, fail
from core.runs.model_export import FORMATS, ExportError, export_onnx, export_state_dict
from core.runs.store import DEFAULT_MODEL_DIR


def size(path: Path) -> str:
    return f"{path.name} {path.stat().st_size / 1e3:,.1f} kB"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.export", description="Export a run's model.")
    parser.add_argument("--run", default=str(DEFAULT_MODEL_DIR), help="run directory (default: the default model)")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--out", help="output folder (default: RUN_DIR/export/)")
    parser.add_argument("--data-dir",
                        help="data folder with MNIST/ for the check (else $MNIST_DATA_DIR, else the per-user cache)")
    args = parser.parse_args(argv)
    try:
        if args.format == "state_dict":
            path = export_state_dict(args.run, args.out)
            print(f"{path.parent}: {size(path)}; reloads with weights_only=True to the same tensors")
            return 0
        exported = export_onnx(args.run, args.out, data_dir=args.data_dir)
    except (ExportError, DataError, OSError) as e:
        fail(f"python -m core.export: {e}")
    print(f"{exported.onnx.parent}: {size(exported.onnx)}, {size(exported.description)}; {exported.check.line()}")
    if not exported.check.ok:
        print("python -m core.export: the ONNX model does not match PyTorch", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
