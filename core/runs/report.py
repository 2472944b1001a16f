"""evaluation.json: the test report of exactly the weights in model.pt, on the
run's own test set and on the other dataset's (MNIST <-> the USPS zip codes).

Draw, Filters and `core.predict` all use model.pt, so the confusion matrix, the
per-class metrics, the misclassified gallery and the headline accuracy describe
those weights and no others: the file is read once, hashed and scored from the
same bytes, and the report names its epoch and sha256.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from core.engine.data import DataError
from core.engine.datasets import OTHER, TestSet, load_test_set
from core.engine.evaluation import predict_scores, test_report
from core.runs.checkpoint import load_model
from core.runs.files import read_json
from core.runs.snapshots import list_snapshots, snapshot_path
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
                     device: torch.device | str = "cpu") -> dict:
    """Score run_dir/model.pt on its test set and on the other dataset's (`other`: the
    set, or the reason it is missing); write evaluation.json and the status summary."""
    run_dir = Path(run_dir)
    model, _, ckpt = load_model(run_dir / "model.pt")
    device = torch.device(device)
    model = model.to(device)
    report = {"dataset": test.dataset,
              **test_report(predict_scores(model, test.images, device, tta=tta), test.labels)}
    if isinstance(other, TestSet):
        scored = test_report(predict_scores(model, other.images, device, tta=tta), other.labels)
        report["other"] = {"dataset": other.dataset, **scored}
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


def epoch_report(run_dir: Path, epoch: int, test: TestSet, tta: bool = False,
                 device: torch.device | str = "cpu") -> dict:
    """The test report of one kept epoch's weights, computed once and cached beside
    them (`epochs/epoch-NNN.json`): a slider drag only reads it."""
    path = epoch_report_path(run_dir, epoch)
    try:
        return read_json(path)
    except (OSError, ValueError):
        pass
    model, _, ckpt = load_model(snapshot_path(run_dir, epoch))
    device = torch.device(device)
    report = {"dataset": test.dataset,
              **test_report(predict_scores(model.to(device), test.images, device, tta=tta), test.labels),
              "scored": {"file": f"{path.parent.name}/{path.with_suffix('.pt').name}", "sha256": ckpt["sha256"],
                         "epoch": epoch}}
    write_json_atomic(path, report)
    return report


def write_epoch_reports(run_dir: Path, test: TestSet, device: torch.device | str = "cpu", tta: bool = False,
                        on_progress=None) -> None:
    """Score every kept epoch not scored yet; `on_progress(done, total)` after each."""
    epochs = list_snapshots(run_dir)
    for done, epoch in enumerate(epochs, 1):
        epoch_report(run_dir, epoch, test, tta, device)
        if on_progress is not None:
            on_progress(done, len(epochs))
