"""TensorBoard: every run's event files, read back as TensorBoard reads them."""

from __future__ import annotations

import math

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata

from core.engine.config import from_preset
from core.runs.run_process import run_training
from core.runs.store import load_run, read_json
from core.runs.tensorboard_log import TensorBoardLog

TINY = dict(model="cnn", widths=(8, 16), hidden=32, batch_size=64, train_limit=2000, augment=0.0)


def read_events(run_dir):
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    return events


def scalars(events, tag) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in events.Scalars(tag)]


def session(events) -> tuple[dict, int]:
    """The run's HParams session: its hyperparameters (as Python values) and end status."""
    content = events.PluginTagToContent(metadata.PLUGIN_NAME)
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    values = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    return values, end.status


@pytest.fixture(scope="module")
def two_epoch_run(mnist_dir, tmp_path_factory):
    cfg = from_preset(None, **TINY, epochs=2, val_size=500, name="tb run", data_dir=str(mnist_dir))
    run_dir = run_training(cfg, tmp_path_factory.mktemp("tb-store"))
    assert load_run(run_dir).state == "completed", (run_dir / "status.json").read_text()
    return run_dir


def test_every_epoch_metric_is_a_scalar_at_its_epoch(two_epoch_run):
    events = read_events(two_epoch_run)
    rows = load_run(two_epoch_run).metrics
    assert len(rows) == 2
    for tag, key in (("loss/train", "train_loss"), ("loss/val", "val_loss"), ("loss/test", "test_loss"),
                     ("loss/train_eval", "train_eval_loss"), ("acc/train", "train_acc"), ("acc/val", "val_acc"),
                     ("acc/test", "test_acc"), ("acc/train_eval", "train_eval_acc"), ("lr", "lr"),
                     ("epoch_seconds", "epoch_seconds")):
        points = scalars(events, tag)
        assert [step for step, _ in points] == [1, 2], tag
        assert [v for _, v in points] == pytest.approx([row[key] for row in rows], rel=1e-5), tag


def test_the_running_train_loss_is_logged_within_epochs_at_batches_seen(two_epoch_run):
    events = read_events(two_epoch_run)
    per_epoch = 2000 // 64  # batches an epoch (the ragged tail is dropped)
    loss, acc = scalars(events, "running/train_loss"), scalars(events, "running/train_acc")
    steps = [step for step, _ in loss]
    assert steps == sorted(steps) and steps == [step for step, _ in acc]
    assert steps[0] == 1 and steps[-1] == 2 * per_epoch
    assert sum(step < per_epoch for step in steps) >= 2  # several points inside the first epoch
    # The last point of each epoch is that epoch's mean train loss.
    rows = load_run(two_epoch_run).metrics
    assert dict(loss)[per_epoch] == pytest.approx(rows[0]["train_loss"], rel=1e-5)
    assert dict(loss)[2 * per_epoch] == pytest.approx(rows[1]["train_loss"], rel=1e-5)


def test_the_hparams_session_holds_the_config_and_the_final_metrics(two_epoch_run):
    events = read_events(two_epoch_run)
    hparams, status = session(events)
    config = read_json(two_epoch_run / "config.json")
    assert status == api_pb2.STATUS_SUCCESS
    assert hparams["activation"] == config["activation"] == "relu"
    assert hparams["lr"] == pytest.approx(config["lr"]) and hparams["epochs"] == 2
    assert hparams["batchnorm"] is config["batchnorm"]
    assert hparams["widths"] == "8,16" and hparams["preset"] == "none" and hparams["name"] == "tb run"
    summary = read_json(two_epoch_run / "evaluation.json")["summary"]
    final = {tag: scalars(events, tag) for tag in ("acc/final_test", "acc/best_val", "acc/final_other", "best_epoch")}
    assert final == {"acc/final_test": [(2, pytest.approx(summary["test_acc"]))],
                     "acc/best_val": [(2, pytest.approx(summary["best_val_acc"]))],
                     "acc/final_other": [(2, pytest.approx(summary["other_acc"]))],
                     "best_epoch": [(2, summary["best_epoch"])]}


def test_a_cancelled_run_without_validation_keeps_what_it_logged(mnist_dir, tmp_path):
    epochs_done = []
    cfg = from_preset(None, **TINY, epochs=2, val_size=0, data_dir=str(mnist_dir))
    run_dir = run_training(cfg, tmp_path, on_epoch=epochs_done.append, should_stop=lambda: bool(epochs_done))
    assert load_run(run_dir).state == "cancelled"
    events = read_events(run_dir)
    tags = events.Tags()["scalars"]
    assert math.isnan(load_run(run_dir).metrics[0]["val_acc"])
    assert "acc/val" not in tags and "loss/val" not in tags and "acc/best_val" not in tags
    assert [step for step, _ in scalars(events, "acc/test")] == [1]
    summary = read_json(run_dir / "evaluation.json")["summary"]
    assert scalars(events, "acc/final_test") == [(1, pytest.approx(summary["test_acc"]))]
    assert session(events)[1] == api_pb2.STATUS_UNKNOWN  # TensorBoard has no "cancelled"


def test_a_failing_writer_never_fails_the_run(tmp_path, monkeypatch, capsys):
    from torch.utils.tensorboard import SummaryWriter

    def broken(*args, **kwargs):
        raise OSError("disk full")

    board = TensorBoardLog(tmp_path, from_preset(None, **TINY))
    monkeypatch.setattr(SummaryWriter, "add_scalar", broken)
    board.on_batch(1, 1, 10, (2.3, 0.1))
    board.on_epoch({"epoch": 1, "train_loss": 1.0})
    board.close("completed", {"test_acc": 0.9})
    assert capsys.readouterr().err.count("disk full") == 1  # said once, then silent
    assert board.writer is None

    (tmp_path / "a file").write_text("")
    unwritable = TensorBoardLog(tmp_path / "a file", from_preset(None, **TINY))  # cannot make a folder there
    unwritable.on_epoch({"epoch": 1, "train_loss": 1.0})
    unwritable.close("failed")
    assert unwritable.writer is None
