"""`python -m core.evaluate --run RUN_DIR`: score a run's model.pt on its test set
and the other dataset's again and rewrite its evaluation.json (what `core.train` does as a run
ends), e.g. after a change to how runs are scored."""

from __future__ import annotations

import sys

from core.engine.config import TrainConfig
from core.engine.data import DataError
from core.engine.datasets import load_test_set
from core.runs.checkpoint import CheckpointError, read_checkpoint
from core.runs.command_line import OneLineParser, fail
from core.runs.report import other_test_set, summary_line, write_evaluation
from core.runs.store import DEFAULT_MODEL_DIR


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.evaluate", description="Score a run's model.pt on the test set.")
    parser.add_argument("--run", default=str(DEFAULT_MODEL_DIR), help="run directory (default: the default model)")
    parser.add_argument("--data-dir", help="data folder with MNIST/ and USPS/ (else $MNIST_DATA_DIR, else the per-user cache)")
    args = parser.parse_args(argv)
    try:
        cfg = TrainConfig.from_dict(read_checkpoint(f"{args.run}/model.pt")["config"])
        side = cfg.input_side()
        test = load_test_set(cfg.dataset, args.data_dir, side)
        report = write_evaluation(args.run, test, other_test_set(cfg.dataset, args.data_dir, side), bool(cfg.tta))
    except (CheckpointError, DataError) as e:
        fail(f"python -m core.evaluate: {e}")
    missing = report.get("other", {}).get("error")
    print(f"{args.run}: {summary_line(report['summary'])}{f', other dataset: {missing}' if missing else ''}, "
          f"model.pt sha256 {report['scored']['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
