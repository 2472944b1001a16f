"""Shared fixtures. Tests that need real MNIST fail (never skip) when it is missing."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from core.engine.config import from_preset
from core.engine.data import resolve_data_dir
from core.engine.mnist import RAW_FILES
from core.runs.states import FINAL_STATES
from core.runs.store import effective_state, read_json, write_json_atomic, write_status

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    root = resolve_data_dir(None)
    found = [p for p in (root / "MNIST" / "raw").glob("*-ubyte*")] if root.exists() else []
    if len(found) < len(RAW_FILES):
        pytest.fail(f"real MNIST is required: set MNIST_DATA_DIR to a folder with MNIST/raw/ "
                    f"({', '.join(RAW_FILES.values())}); looked in {root}")
    return root


@pytest.fixture(scope="session")
def trained_run(mnist_dir, tmp_path_factory) -> Path:
    """One small but real completed run (1 epoch on 3,000 images), shared read-only."""
    from core.runs.run_process import run_training

    cfg = from_preset(None, model="cnn", widths=(8, 16), hidden=32, epochs=1, batch_size=64,
                      train_limit=3000, augment=0.0, name="fixture run", data_dir=str(mnist_dir))
    run_dir = run_training(cfg, tmp_path_factory.mktemp("fixture-store"))
    assert (run_dir / "evaluation.json").exists(), (run_dir / "status.json").read_text()
    return run_dir


def copy_run(src: Path, runs_dir: Path, run_id: str) -> Path:
    dst = runs_dir / run_id
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def lenet16_run(mnist_dir, tmp_path_factory) -> Path:
    """A small real run of the 1989 net on the zip codes, fed 16x16 digits as published."""
    from core.runs.run_process import run_training

    cfg = from_preset("lenet1989-paper", epochs=1, batch_size=16, train_limit=800, name="lenet 16x16",
                      data_dir=str(mnist_dir))
    run_dir = run_training(cfg, tmp_path_factory.mktemp("usps-store"), run_id="20260103-000000-lenet-16")
    assert (run_dir / "evaluation.json").exists(), (run_dir / "status.json").read_text()
    return run_dir


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty run store the app reads (via $DIGIT_LAB_RUNS_DIR)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("DIGIT_LAB_RUNS_DIR", str(runs))
    return runs


@pytest.fixture
def completed_store(store, trained_run):
    copy_run(trained_run, store, "20260101-000000-completed-0001")
    return store


@pytest.fixture
def running_store(store, trained_run):
    """A run mid-training: owned by this test process (its full identity: host, pid,
    start time, a fresh heartbeat), progress and one epoch of metrics."""
    from core.runs.liveness import identity

    run_dir = copy_run(trained_run, store, "20260101-000000-running-0002")
    (run_dir / "evaluation.json").unlink()
    write_status(run_dir, state="running", **identity(os.getpid()), ended_at=None)
    write_json_atomic(run_dir / "progress.json",
                      {"epoch": 2, "epochs": 3, "batch": 10, "batches": 46, "elapsed": 12.5, "loss": 0.3})
    return store


@pytest.fixture
def failed_store(store, trained_run):
    run_dir = copy_run(trained_run, store, "20260101-000000-failed-0003")
    for name in ("evaluation.json", "model.pt"):
        (run_dir / name).unlink()
    write_status(run_dir, state="failed", error="RuntimeError: out of memory (test)")
    return store


@pytest.fixture
def hundred_run_store(store, trained_run):
    """100 copies of the completed run, each with its own valid run id."""
    for i in range(100):
        copy_run(trained_run, store, f"20260101-0000{i:02d}-r-{i:04x}")
    return store


@pytest.fixture(scope="session")
def epoch_runs(mnist_dir, tmp_path_factory) -> tuple[Path, Path]:
    """Two real three-epoch runs that differ in activation and pooling (relu + max
    against tanh + avg), every epoch kept: for epoch sliders and side-by-side views."""
    from core.runs.run_process import run_training

    store = tmp_path_factory.mktemp("epoch-store")
    runs = []
    for name, activation, pooling in (("relu max", "relu", "max"), ("tanh avg", "tanh", "avg")):
        cfg = from_preset(None, model="cnn", widths=(8, 16), hidden=32, epochs=3, batch_size=64, train_limit=2000,
                          val_size=500, augment=0.0, activation=activation, pooling=pooling, name=name,
                          data_dir=str(mnist_dir))
        runs.append(run_training(cfg, store, run_id=f"20260102-00000{len(runs)}-{activation}-{pooling}"))
        assert (runs[-1] / "evaluation.json").exists(), (runs[-1] / "status.json").read_text()
    return runs[0], runs[1]


@pytest.fixture
def comparison_store(store, epoch_runs):
    for run_dir in epoch_runs:
        copy_run(run_dir, store, run_dir.name)
    return store


def wait_for(predicate, timeout: float, every: float = 0.2):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` s pass (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(every)
    return None


def wait_for_state(run_dir: Path, states=FINAL_STATES, timeout: float = 60.0) -> str:
    """Poll status.json until the run reaches one of `states`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = effective_state(read_json(Path(run_dir) / "status.json"))
            if state in states:
                return state
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{run_dir} did not reach {states} in {timeout:.0f}s")
