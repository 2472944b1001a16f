"""`python -m core.evaluate --run RUN_DIR`: score a run's model.pt on the MNIST
test set again and rewrite its evaluation.json (what `core.train` does as a run
ends), e.g. after a change to how runs are scored."""

from __future__ import annotations

import sys

from core.engine.data import DataError, load_mnist
from core.runs.checkpoint import CheckpointError, read_checkpoint
from core.runs.command_line import OneLineParser, fail
from core.runs.report import write_evaluation
from core.runs.store import DEFAULT_MODEL_DIR


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.evaluate", description="Score a run's model.pt on the test set.")
    parser.add_argument("--run", default=str(DEFAULT_MODEL_DIR), help="run directory (default: the default model)")
    parser.add_argument("--data-dir", help="MNIST folder (else $MNIST_DATA_DIR, else the per-user cache)")
    args = parser.parse_args(argv)
    try:
        tta = bool(read_checkpoint(f"{args.run}/model.pt")["config"].get("tta"))
        mnist = load_mnist(args.data_dir)
        report = write_evaluation(args.run, mnist.test_images, mnist.test_labels, tta)
    except (CheckpointError, DataError) as e:
        fail(f"python -m core.evaluate: {e}")
    s = report["summary"]
    print(f"{args.run}: epoch {s['best_epoch']} (val acc {s['best_val_acc']:.4f}), test acc {s['test_acc']:.4f}, "
          f"model.pt sha256 {report['scored']['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
