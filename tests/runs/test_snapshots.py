"""Every epoch's weights: kept as the run trains, thinned within a budget, loadable
with weights_only after a SIGKILL, and each one's test report cached on disk."""

import os
import signal
import time

import pytest
import torch

from core.engine.config import from_preset
from core.engine.datasets import load_test_set
from core.engine.models import build_model
from core.runs.checkpoint import load_model, read_checkpoint
from core.runs.evaluation_record import epoch_report, epoch_report_path
from core.runs.launcher import launch_run
from core.runs.snapshots import SnapshotKeeper, list_snapshots, snapshot_path, thin
from core.runs.store import read_json, read_metrics
from tests.conftest import copy_run
from tests.runs.test_robustness import small_config, wait_for_pid


def test_thinning_keeps_the_protected_and_spreads_the_rest():
    kept = list(range(21))
    for epoch in thin(kept, 6, protected={0, 12, 20}):
        kept.remove(epoch)
    assert len(kept) == 6 and {0, 12, 20} <= set(kept)
    gaps = [b - a for a, b in zip(kept, kept[1:])]
    assert max(gaps) <= 2 * min(gaps) + 2, kept  # spread out, not bunched at one end
    assert thin([0, 1, 2], 1, protected={0, 1, 2}) == []  # never below the protected set


def test_keeper_stays_within_its_budget_and_keeps_first_best_last(tmp_path):
    cfg = from_preset(None, model="cnn", widths=(8, 16), hidden=32)
    model = build_model(cfg)
    keeper = SnapshotKeeper(tmp_path, cfg, budget_bytes=1)  # smaller than one file: the minimum of three
    keeper.keep(0, model)
    size = snapshot_path(tmp_path, 0).stat().st_size
    keeper = SnapshotKeeper(tmp_path, cfg, budget_bytes=5 * size)
    for epoch in range(1, 16):
        keeper.best = min(epoch, 7)  # the best stops improving at epoch 7
        keeper.keep(epoch, model)
    kept = list_snapshots(tmp_path)
    assert len(kept) == 5 and {0, 7, 15} <= set(kept), kept
    for epoch in kept:
        assert read_checkpoint(snapshot_path(tmp_path, epoch))["epoch"] == epoch


def test_a_completed_run_keeps_every_epoch_and_scores_each_once(trained_run, mnist_dir, tmp_path):
    assert list_snapshots(trained_run) == [0, 1]
    evaluation = read_json(trained_run / "evaluation.json")
    kept = evaluation["scored"]["epoch"]
    report = read_json(epoch_report_path(trained_run, kept))
    assert report["test_acc"] == evaluation["test_acc"]  # the same weights, the same figures
    assert report["confusion"] == evaluation["confusion"]
    assert not epoch_report_path(trained_run, 0).exists()  # made when a page first asks, not by the run
    copy = copy_run(trained_run, tmp_path, trained_run.name)  # the shared run stays as the run left it
    assert epoch_report(copy, 0, load_test_set("mnist", mnist_dir))["test_acc"] < 0.3  # the initialisation guesses
    best = load_model(snapshot_path(trained_run, kept))[0].state_dict()
    for name, tensor in load_model(trained_run / "model.pt")[0].state_dict().items():
        assert torch.equal(tensor, best[name]), name


@pytest.mark.slow
def test_a_killed_run_keeps_the_epochs_it_finished(store, mnist_dir):
    run_dir = store / launch_run(small_config(mnist_dir, epochs=30), store)
    pid = wait_for_pid(run_dir)
    deadline = time.time() + 180
    while not snapshot_path(run_dir, 2).exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    kept = list_snapshots(run_dir)
    assert kept[:3] == [0, 1, 2] and kept[-1] < 30, kept
    done = len(read_metrics(run_dir / "metrics.csv"))
    for epoch in kept:
        model, cfg, ckpt = load_model(snapshot_path(run_dir, epoch))  # weights_only=True inside
        assert ckpt["epoch"] == epoch <= done and cfg.epochs == 30
        torch.load(snapshot_path(run_dir, epoch), weights_only=True)


def test_the_default_model_comes_with_its_epochs():
    """Its epoch slider shows on first launch: a thinned set in git, the kept epoch's weights
    exactly model.pt's."""
    from core.predict import model_path

    run_dir = model_path(None).parent
    kept = list_snapshots(run_dir)
    model, _, ckpt = load_model(run_dir / "model.pt")
    assert len(kept) >= 3 and kept[0] == 0 and ckpt["epoch"] == kept[-1], kept
    assert sum(snapshot_path(run_dir, e).stat().st_size for e in kept) < 8 * 2**20
    last = load_model(snapshot_path(run_dir, kept[-1]))[0].state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, last[name]), name
