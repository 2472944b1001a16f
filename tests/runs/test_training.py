"""Real training on real MNIST, and the run directory it leaves."""


import hashlib

import pytest
import torch

from core.engine.config import from_preset
from core.engine.mnist import load_mnist
from core.engine.scoring import predict_scores
from core.runs.checkpoint import load_model
from core.runs.run_process import run_training
from core.runs.store import METRIC_COLUMNS, read_json, read_metrics


@pytest.fixture(scope="module")
def one_epoch_run(mnist_dir, tmp_path_factory):
    cfg = from_preset("fast", epochs=1, data_dir=str(mnist_dir), name="one epoch")
    return run_training(cfg, tmp_path_factory.mktemp("runs"))


def test_the_fast_preset_reaches_99_percent_in_its_one_epoch(one_epoch_run):
    summary = read_json(one_epoch_run / "evaluation.json")["summary"]
    assert summary["test_acc"] >= 0.99, summary


def test_run_directory_is_complete(one_epoch_run):
    for name in ("config.json", "status.json", "metrics.csv", "model.pt", "evaluation.json"):
        assert (one_epoch_run / name).is_file(), name
    status = read_json(one_epoch_run / "status.json")
    assert status["state"] == "completed" and status["ended_at"]
    config = read_json(one_epoch_run / "config.json")
    assert config["parameters"] > 0 and config["versions"]["torch"] and config["seed"] == 0
    rows = read_metrics(one_epoch_run / "metrics.csv")
    assert len(rows) == 1 and set(METRIC_COLUMNS) <= set(rows[0])
    # The live view's running curve: fractional epochs, rising, ending at the epoch's end.
    trace = read_json(one_epoch_run / "progress.json")["trace"]
    xs = [point[0] for point in trace]
    assert xs == sorted(xs) and xs[-1] == 1.0 and all(0 < p[2] <= 1 for p in trace)


def test_confusion_matrix_matches_reported_accuracy(one_epoch_run):
    report = read_json(one_epoch_run / "evaluation.json")
    confusion = torch.tensor(report["confusion"])
    assert confusion.sum() == 10_000
    assert confusion.trace().item() / 10_000 == pytest.approx(report["summary"]["test_acc"])
    # Without TTA the report scores the best epoch's weights: the same figure as its metrics row.
    best = read_metrics(one_epoch_run / "metrics.csv")[report["summary"]["best_epoch"] - 1]
    assert best["test_acc"] == pytest.approx(report["test_acc"], abs=1e-6)
    assert len(report["misclassified"]) == 10_000 - confusion.trace().item()
    wrong = report["misclassified"][0]
    assert wrong["true"] != wrong["pred"] and len(wrong["probs"]) == 10
    assert sum(wrong["probs"]) == pytest.approx(1, abs=1e-3)


def test_checkpoint_loads_weights_only_and_rebuilds_predictions(one_epoch_run, mnist_dir):
    torch.load(one_epoch_run / "model.pt", weights_only=True)  # must not need pickled code
    model, cfg, _ = load_model(one_epoch_run / "model.pt")
    test = load_mnist(mnist_dir)
    pred = predict_scores(model, test.test_images, torch.device("cpu")).argmax(1)
    report = read_json(one_epoch_run / "evaluation.json")
    wrong = {m["index"]: m["pred"] for m in report["misclassified"]}
    assert set((pred != test.test_labels).nonzero().flatten().tolist()) == set(wrong)
    assert all(pred[i] == p for i, p in list(wrong.items())[:50])


def test_same_seed_same_metrics(mnist_dir, tmp_path):
    cfg = from_preset(None, model="cnn", widths=(4, 8), hidden=16, epochs=1, train_limit=1000,
                      val_size=500, augment=1.0, dropout=0.2, data_dir=str(mnist_dir), seed=3)
    rows = [read_metrics(run_training(cfg, tmp_path / str(i)) / "metrics.csv")[0] for i in range(2)]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "test_acc"):
        assert rows[0][key] == rows[1][key], key


@pytest.mark.parametrize("model", ["lenet1989", "mlp"])
def test_other_families_learn(model, mnist_dir, tmp_path):
    preset = "lenet1989" if model == "lenet1989" else None
    cfg = from_preset(preset, model=model, epochs=1, train_limit=3000, augment=0.0, data_dir=str(mnist_dir))
    summary = read_json(run_training(cfg, tmp_path) / "evaluation.json")["summary"]
    assert summary["test_acc"] > 0.80, summary


def test_evaluation_scores_exactly_the_kept_weights(mnist_dir, tmp_path):
    """A run whose best validation epoch is not its last: evaluation.json must describe
    model.pt (the best epoch), not the weights the loop ended with."""
    # Seed 0 with this too-large constant learning rate peaks at epoch 2 of 3 (measured).
    cfg = from_preset(None, model="cnn", widths=(4, 8), hidden=16, epochs=3, train_limit=1000, val_size=500,
                      optimizer="sgd", lr=0.3, scheduler="none", augment=0.0, data_dir=str(mnist_dir))
    run_dir = run_training(cfg, tmp_path)
    rows = read_metrics(run_dir / "metrics.csv")
    report = read_json(run_dir / "evaluation.json")
    best = max(rows, key=lambda r: r["val_acc"])
    assert best["epoch"] < rows[-1]["epoch"], "precondition: the best epoch must not be the last"
    assert best["test_acc"] != rows[-1]["test_acc"], "precondition: the two epochs must score differently"

    assert report["scored"] == {"file": "model.pt", "epoch": best["epoch"],
                                "sha256": hashlib.sha256((run_dir / "model.pt").read_bytes()).hexdigest()}
    assert report["summary"]["best_epoch"] == best["epoch"] and report["summary"]["epochs_done"] == 3
    assert report["test_acc"] == pytest.approx(best["test_acc"], abs=1e-6)
    # And independently: model.pt itself scores what the report says.
    model, _, _ = load_model(run_dir / "model.pt")
    test = load_mnist(mnist_dir)
    accuracy = (predict_scores(model, test.test_images, torch.device("cpu")).argmax(1) == test.test_labels)
    assert accuracy.float().mean().item() == pytest.approx(report["test_acc"], abs=1e-6)
    assert read_json(run_dir / "status.json")["summary"]["test_acc"] == report["test_acc"]


def test_default_model_report_describes_its_model_pt():
    from core.runs.store import DEFAULT_MODEL_DIR

    report = read_json(DEFAULT_MODEL_DIR / "evaluation.json")
    digest = hashlib.sha256((DEFAULT_MODEL_DIR / "model.pt").read_bytes()).hexdigest()
    assert report["scored"]["sha256"] == digest
    assert report["scored"]["epoch"] == torch.load(DEFAULT_MODEL_DIR / "model.pt", weights_only=True)["epoch"]
