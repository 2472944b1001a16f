"""evaluation.json: the test report of exactly the weights in model.pt, on the
run's own test set and on the other dataset's (MNIST <-> the USPS zip codes).

Draw, Filters and `core.predict` all use model.pt, so the confusion matrix, the
per-class metrics, the misclassified gallery and the headline accuracy describe
those weights and no others: the file is read once, hashed and scored from the
same bytes, and the report names its epoch and sha256.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from core.engine.data import DataError
from core.engine.datasets import OTHER, TestSet, load_test_set
from core.engine.scoring import predict_scores, test_report
from core.runs.checkpoint import load_model
from core.runs.files import read_json
from core.runs.snapshots import snapshot_path
from core.runs.store import read_metrics, write_json_atomic, write_status


def summary_line(summary: dict) -> str:
    """The report's headline in one line, as the entry points print it."""
    kept = (f"val acc {summary['best_val_acc']:.4f}" if summary.get("best_val_acc") is not None
            else "no validation set, the last epoch kept")
    other = (f", {summary['other_dataset']} test acc {summary['other_acc']:.4f}"
             if summary.get("other_acc") is not None else "")
    return (f"best epoch {summary.get('best_epoch')} ({kept}), {summary.get('dataset', 'mnist')} test acc "
            f"{summary['test_acc']:.4f}{other}")


def other_test_set(dataset: str, data_dir: str | os.PathLike | None, side: int) -> TestSet | str:
    """The other dataset's test digits, or why they cannot be had (the run's report
    then says so; a missing second dataset never fails a run)."""
    try:
        return load_test_set(OTHER[dataset], data_dir, side)
    except DataError as e:
        return str(e)


def write_evaluation(run_dir: Path, test: TestSet, other: TestSet | str | None = None, tta: bool = False,
                     device: torch.device | str = "cpu", scored: ScoredEpochs | None = None) -> dict:
    """Score run_dir/model.pt on its test set and on the other dataset's (`other`: the
    set, or the reason it is missing); write evaluation.json and the status summary.
    The test-set scores the loop already computed for model.pt's epoch are reused."""
    run_dir = Path(run_dir)
    model, _, ckpt = load_model(run_dir / "model.pt")
    device = torch.device(device)
    model = model.to(device)
    reused = scored.of_epoch(ckpt.get("epoch")) if scored is not None and not tta else None
    scores = reused if reused is not None else predict_scores(model, test.images, device, tta=tta)
    report = {"dataset": test.dataset, **test_report(scores, test.labels)}
    if isinstance(other, TestSet):
        report["other"] = {"dataset": other.dataset,
                           **test_report(predict_scores(model, other.images, device, tta=tta), other.labels)}
    elif other is not None:
        report["other"] = {"dataset": OTHER.get(test.dataset), "error": other}
    epochs_done = len(read_metrics(run_dir / "metrics.csv")) if (run_dir / "metrics.csv").exists() else None
    report["scored"] = {"file": "model.pt", "sha256": ckpt["sha256"], "epoch": ckpt.get("epoch")}
    report["summary"] = {
        "best_epoch": ckpt.get("epoch"),
        "best_val_acc": ckpt.get("val_acc"),
        "test_acc": report["test_acc"],
        "dataset": test.dataset,
        "other_dataset": report.get("other", {}).get("dataset"),
        "other_acc": report.get("other", {}).get("test_acc"),
        "epochs_done": epochs_done,
        "tta": tta,
    }
    write_json_atomic(run_dir / "evaluation.json", report)
    write_status(run_dir, summary=report["summary"])
    return report


def epoch_report_path(run_dir: Path, epoch: int) -> Path:
    return snapshot_path(run_dir, epoch).with_suffix(".json")


def _write_epoch_report(run_dir: Path, epoch: int, test: TestSet, scores: torch.Tensor, sha256: str) -> dict:
    path = epoch_report_path(run_dir, epoch)
    report = {"dataset": test.dataset, **test_report(scores, test.labels),
              "scored": {"file": f"{path.parent.name}/{path.with_suffix('.pt').name}", "sha256": sha256,
                         "epoch": epoch}}
    try:
        write_json_atomic(path, report)
    except OSError:
        pass  # a folder it cannot write (the default model installed read-only): scored again next time
    return report


def epoch_report(run_dir: Path, epoch: int, test: TestSet, tta: bool = False,
                 device: torch.device | str = "cpu") -> dict:
    """The test report of one kept epoch's weights, cached beside them
    (`epochs/epoch-NNN.json`): written by the run from the scores its loop computed,
    or computed here once (epoch 0, a run with TTA, older runs); a slider drag only reads it."""
    try:
        return read_json(epoch_report_path(run_dir, epoch))
    except (OSError, ValueError):
        pass
    model, _, ckpt = load_model(snapshot_path(run_dir, epoch))
    device = torch.device(device)
    scores = predict_scores(model.to(device), test.images, device, tta=tta)
    return _write_epoch_report(run_dir, epoch, test, scores, ckpt["sha256"])


class ScoredEpochs:
    """Each epoch's test-set scores as the training loop computed them, so that the
    epoch reports and evaluation.json are made from them rather than by scoring the
    same weights again. Holds the latest epoch's and the best one's only."""

    def __init__(self, run_dir: Path, test: TestSet, tta: bool):
        self.run_dir, self.test, self.tta = Path(run_dir), test, tta
        self.latest: tuple[int, torch.Tensor] | None = None
        self.best: tuple[int, torch.Tensor] | None = None

    def on_test_scores(self, epoch: int, scores: torch.Tensor) -> None:
        self.latest = (epoch, scores)

    def on_best(self, epoch: int) -> None:
        if self.latest is not None and self.latest[0] == epoch:
            self.best = self.latest

    def on_weights(self, epoch: int, model=None) -> None:
        """After the epoch's snapshot is written: its report, from the loop's scores.
        With TTA the report scores differently from the loop, so it is left to `epoch_report`."""
        if self.tta or self.latest is None or self.latest[0] != epoch:
            return
        path = snapshot_path(self.run_dir, epoch)
        if path.is_file():
            _write_epoch_report(self.run_dir, epoch, self.test, self.latest[1],
                                hashlib.sha256(path.read_bytes()).hexdigest())

    def of_epoch(self, epoch: int | None) -> torch.Tensor | None:
        for kept in (self.best, self.latest):
            if kept is not None and kept[0] == epoch:
                return kept[1]
        return None
