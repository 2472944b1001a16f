"""`python -m core.evaluate --run RUN_DIR [--handwriting SET_DIR]`: score a run's model.pt on its test set
and the other dataset's again and rewrite its evaluation.json (what `core.train` does as a run
ends), e.g. after a change to how runs are scored."""

from __future__ import annotations

import sys
from pathlib import Path

from core.engine.config import TrainConfig
from core.engine.data import DataError
from core.engine.datasets import load_test_set
from core.engine.handwriting import HandwritingDataError, handwriting_report, read_handwriting
from core.runs.checkpoint import CheckpointError, load_model, read_checkpoint
from core.runs.command_line import OneLineParser, fail
from core.runs.evaluation_record import other_test_set, summary_line, write_evaluation
from core.runs.store import DEFAULT_MODEL_DIR


def score_handwriting(run: str, set_dir: str) -> int:
    """Print a run's accuracy on one person's digits: overall, per digit, the confusion
    matrix and every misread sample with its probabilities."""
    try:
        model, cfg, ckpt = load_model(Path(run) / "model.pt")
        digits = read_handwriting(set_dir, cfg.input_side())
    except (CheckpointError, HandwritingDataError) as e:
        fail(f"python -m core.evaluate: {e}")
    report = handwriting_report(model, digits)
    wrong = len(report["misclassified"])
    print(f"{run} on {digits.name!r}: {report['accuracy']:.2%} ({report['samples'] - wrong}/{report['samples']}), "
          f"model.pt sha256 {ckpt['sha256'][:12]}")
    for c in report["per_class"]:
        if c["support"]:
            print(f"  digit {c['class']}: {c['recall']:.0%} of {c['support']}")
    print("confusion (rows: written, columns: read)")
    print("     " + " ".join(f"{d:>3}" for d in range(10)))
    for d, row in enumerate(report["confusion"]):
        print(f"  {d}: " + " ".join(f"{v:>3}" for v in row))
    for m in report["misclassified"]:
        print(f"  misread {m['file']}: {m['true']} read as {m['pred']} ({max(m['probs']):.0%}), "
              f"probs {m['probs']}")
    for file, why in digits.skipped:
        print(f"  skipped {file}: {why}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.evaluate", description="Score a run's model.pt on the test set.")
    parser.add_argument("--run", default=str(DEFAULT_MODEL_DIR), help="run directory (default: the default model)")
    parser.add_argument("--data-dir",
                        help="data folder with MNIST/ and USPS/ (else $MNIST_DATA_DIR, else the per-user cache)")
    parser.add_argument("--handwriting", metavar="SET_DIR",
                        help="score on a handwriting set (<set>/<digit>/<image>) instead; evaluation.json is "
                             "left as it is")
    args = parser.parse_args(argv)
    if args.handwriting is not None:
        return score_handwriting(args.run, args.handwriting)
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
