"""evaluation.json: the test report of exactly the weights in model.pt.

Draw, Filters and `core.predict` all use model.pt, so the confusion matrix, the
per-class metrics, the misclassified gallery and the headline accuracy describe
those weights and no others: the file is read once, hashed and scored from the
same bytes, and the report names its epoch and sha256.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.engine.evaluation import predict_scores, test_report
from core.runs.checkpoint import load_model
from core.runs.store import read_metrics, write_json_atomic, write_status


def write_evaluation(run_dir: Path, test_x: torch.Tensor, test_y: torch.Tensor, tta: bool = False,
                     device: torch.device | str = "cpu") -> dict:
    """Score run_dir/model.pt on the test set; write evaluation.json and the status summary."""
    run_dir = Path(run_dir)
    model, _, ckpt = load_model(run_dir / "model.pt")
    device = torch.device(device)
    report = test_report(predict_scores(model.to(device), test_x, device, tta=tta), test_y)
    epochs_done = len(read_metrics(run_dir / "metrics.csv")) if (run_dir / "metrics.csv").exists() else None
    report["scored"] = {"file": "model.pt", "sha256": ckpt["sha256"], "epoch": ckpt.get("epoch")}
    report["summary"] = {
        "best_epoch": ckpt.get("epoch"),
        "best_val_acc": ckpt.get("val_acc"),
        "test_acc": report["test_acc"],
        "epochs_done": epochs_done,
        "tta": tta,
    }
    write_json_atomic(run_dir / "evaluation.json", report)
    write_status(run_dir, summary=report["summary"])
    return report
