"""The second dataset: training on the USPS zip codes, the 1989 net on its own
16x16 digits, no validation set, and every run scored on the other dataset too."""

import math

import pytest
import torch

from core.engine.config import ConfigError, from_preset
from core.engine.datasets import load_test_set
from core.engine.scoring import predict_scores
from core.runs.checkpoint import load_model
from core.runs.run_process import run_training
from core.runs.store import read_json, read_metrics


@pytest.fixture(scope="module")
def usps_run(mnist_dir, tmp_path_factory):
    cfg = from_preset("fast", dataset="usps", epochs=2, data_dir=str(mnist_dir), name="usps")
    return run_training(cfg, tmp_path_factory.mktemp("runs"))


def test_a_usps_run_learns_zip_codes_and_is_scored_on_mnist(usps_run):
    config, report = read_json(usps_run / "config.json"), read_json(usps_run / "evaluation.json")
    assert config["dataset"] == "usps" and config["val_size"] == 729  # the dataset's default
    assert report["dataset"] == "usps" and sum(map(sum, report["confusion"])) == 2_007
    assert report["test_acc"] >= 0.93, report["summary"]
    other = report["other"]
    assert other["dataset"] == "mnist" and sum(map(sum, other["confusion"])) == 10_000
    assert 0.5 < other["test_acc"] < 1  # learned from 6,562 zip codes, it still reads most of MNIST
    assert report["summary"]["other_acc"] == other["test_acc"]
    assert len(other["misclassified"]) == round(10_000 * (1 - other["test_acc"]))


def test_every_mnist_run_is_scored_on_the_zip_codes(trained_run):
    report = read_json(trained_run / "evaluation.json")
    assert report["other"]["dataset"] == "usps" and sum(map(sum, report["other"]["confusion"])) == 2_007


def test_the_1989_net_takes_usps_at_16x16_and_keeps_the_last_epoch_without_validation(mnist_dir, tmp_path):
    cfg = from_preset("lenet1989-paper", epochs=2, train_limit=1_500, data_dir=str(mnist_dir))
    assert cfg.input_side() == 16 and cfg.resolved_val_size() == 0
    run_dir = run_training(cfg, tmp_path)
    rows = read_metrics(run_dir / "metrics.csv")
    assert len(rows) == 2 and all(math.isnan(r["val_acc"]) for r in rows)
    # The paper's figure: training and test error after every pass.
    assert all(0.5 < r["train_eval_acc"] <= 1 and 0.5 < r["test_acc"] <= 1 for r in rows)
    report = read_json(run_dir / "evaluation.json")
    assert report["scored"]["epoch"] == 2 and report["summary"]["best_val_acc"] is None  # no selection
    assert report["test_acc"] == pytest.approx(rows[-1]["test_acc"], abs=1e-6)
    # Its test set is the 16x16 digits as published; scored on them directly, it agrees with the report.
    model, _, _ = load_model(run_dir / "model.pt")
    test = load_test_set("usps", mnist_dir, side=16)
    assert test.images.shape[1:] == (16, 16)
    accuracy = (predict_scores(model, test.images, torch.device("cpu")).argmax(1) == test.labels).float().mean()
    assert accuracy.item() == pytest.approx(report["test_acc"], abs=1e-6)
    assert report["other"]["dataset"] == "mnist" and sum(map(sum, report["other"]["confusion"])) == 10_000


@pytest.mark.parametrize("overrides, field", [
    (dict(dataset="usps", val_size=7_291), "val_size"),
    (dict(dataset="usps", train_limit=7_000), "train_limit"),  # 7,291 - 729 held out = 6,562
    (dict(dataset="kmnist"), "dataset"),
])
def test_sizes_are_checked_against_the_chosen_dataset(overrides, field):
    with pytest.raises(ConfigError) as e:
        from_preset(None, **overrides)
    assert e.value.field == field


def test_a_missing_second_dataset_is_a_reason_in_the_report_not_an_error(mnist_dir, tmp_path, monkeypatch):
    """A data folder with MNIST but no USPS, and no network: the cross-dataset test says why."""
    import core.engine.usps as usps
    from core.runs.evaluation_record import other_test_set

    data = tmp_path / "data"
    (data / "MNIST").mkdir(parents=True)
    (data / "MNIST" / "raw").symlink_to(mnist_dir / "MNIST" / "raw")

    def offline(dataset, root, missing_message):
        raise usps.DataError(missing_message("download failed: offline"))

    monkeypatch.setattr(usps, "download_with_torchvision", offline)
    reason = other_test_set("mnist", data, 28)
    assert isinstance(reason, str) and "USPS not found" in reason and "usps.t.bz2" in reason


def test_the_paper_preset_from_the_command_line(mnist_dir, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "core.train", "--preset", "lenet1989-paper", "--epochs", "1",
                           "--train-limit", "300", "--data-dir", str(mnist_dir), "--runs-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no validation set, the last epoch kept" in done.stderr and "usps test acc" in done.stderr
