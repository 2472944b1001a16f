"""Nothing is lost and nothing runs code: killed runs, corrupt stores, hostile names, queues."""

import json
import os
import pickle
import random
import signal
import time

import pytest
import torch

from core.engine.config import from_preset
from core.runs.checkpoint import CheckpointError, load_model
from core.runs.launcher import cancel_run, launch_run
from core.runs.store import (
    RunStoreError,
    effective_state,
    list_runs,
    load_run,
    new_run_id,
    read_json,
    read_metrics,
    rename_run,
    run_path,
)
from tests.conftest import copy_run, wait_for_state


class RunsCode:
    """A pickle that would create a file if it were ever unpickled with code allowed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_corrupt_and_foreign_files_are_listed_as_broken(store, trained_run, tmp_path):
    marker = tmp_path / "code-ran"
    truncated = copy_run(trained_run, store, "20260101-000001-truncated-0001")
    data = (truncated / "model.pt").read_bytes()
    (truncated / "model.pt").write_bytes(data[: len(data) // 2])
    garbage = copy_run(trained_run, store, "20260101-000002-garbage-0002")
    (garbage / "metrics.csv").write_bytes(b"\x00\xff not,a,csv\n1,2\n")
    no_config = copy_run(trained_run, store, "20260101-000003-noconfig-0003")
    (no_config / "config.json").unlink()
    evil = copy_run(trained_run, store, "20260101-000004-evil-0004")
    with open(evil / "model.pt", "wb") as f:
        pickle.dump({"state_dict": RunsCode(marker), "config": {}}, f)
    (store / "holiday-photos").mkdir()
    (store / "holiday-photos" / "beach.jpg").write_bytes(b"jpeg")
    (store / "stray-file.txt").write_text("not a folder")

    runs = {r.run_id: r for r in list_runs(store)}
    assert set(runs) == {truncated.name, garbage.name, no_config.name, evil.name, "holiday-photos"}
    assert all(r.broken for r in runs.values())
    assert "model.pt" in " ".join(runs[truncated.name].problems)
    assert "metrics.csv" in " ".join(runs[garbage.name].problems)
    assert "config.json is missing" in runs[no_config.name].problems
    assert "model.pt" in " ".join(runs[evil.name].problems)
    assert "not a run id" in runs["holiday-photos"].problems[0]
    with pytest.raises(CheckpointError):
        load_model(evil / "model.pt")
    assert not marker.exists(), "a checkpoint ran code"


@pytest.mark.parametrize("bad", ["../escape", "/etc", "..", "a/../../b", "x\x00y", "r" * 10_000, ""])
def test_ids_never_become_paths_outside_the_store(store, bad):
    with pytest.raises(RunStoreError):
        run_path(store, bad)
    with pytest.raises(RunStoreError):
        rename_run(store, bad, "new name")


@pytest.mark.parametrize("name", ["../../evil", "/etc/passwd", "nul\x00byte", "n" * 10_000])
def test_names_stay_names(name):
    run_id = new_run_id(name.replace("\x00", ""))
    assert "/" not in run_id and ".." not in run_id and len(run_id) < 80
    if "\x00" in name or len(name) > 100:
        with pytest.raises(ValueError, match="name"):
            from_preset(None, name=name)


def test_rename_keeps_the_folder(completed_store):
    run_id = list_runs(completed_store)[0].run_id
    rename_run(completed_store, run_id, "../../renamed")
    assert load_run(completed_store / run_id).name == "../../renamed"
    assert sorted(p.name for p in completed_store.iterdir()) == [run_id]


def small_config(mnist_dir, **overrides):
    values = dict(model="cnn", widths=(8, 16), hidden=32, epochs=3, batch_size=64, train_limit=4000,
                  val_size=1000, augment=0.5, data_dir=str(mnist_dir))
    return from_preset(None, **{**values, **overrides})


def assert_files_valid(run_dir):
    """Every file a run leaves must parse, whenever the run was stopped."""
    for name in ("config.json", "status.json", "progress.json", "evaluation.json"):
        if (run_dir / name).exists():
            json.loads((run_dir / name).read_text())
    if (run_dir / "metrics.csv").exists():
        rows = read_metrics(run_dir / "metrics.csv")
        assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    if (run_dir / "model.pt").exists():
        torch.load(run_dir / "model.pt", weights_only=True)
        load_model(run_dir / "model.pt")


def wait_for_pid(run_dir, timeout=60) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        pid = read_json(run_dir / "status.json").get("pid")
        if pid:
            return pid
        time.sleep(0.05)
    raise TimeoutError(f"{run_dir.name} never started")


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_valid_files(store, mnist_dir):
    rng = random.Random(7)
    states = []
    for i in range(10):
        run_dir = store / launch_run(small_config(mnist_dir, seed=i), store)
        pid = wait_for_pid(run_dir)
        time.sleep(rng.uniform(0.0, 8.0))
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.time() + 10
        while effective_state(read_json(run_dir / "status.json")) in ("running", "queued") and time.time() < deadline:
            time.sleep(0.2)
        info = load_run(run_dir)
        states.append(info.state)
        assert info.state in ("failed", "completed"), info.status
        assert not info.problems, info.problems
        assert_files_valid(run_dir)
    assert "failed" in states, "every run finished before its kill; the test killed nothing"


@pytest.mark.slow
def test_cancel_keeps_finished_epochs_and_best_model(store, mnist_dir):
    run_dir = store / launch_run(small_config(mnist_dir, epochs=20), store)
    deadline = time.time() + 120
    while not (run_dir / "model.pt").exists() and time.time() < deadline:
        time.sleep(0.3)
    assert cancel_run(store, run_dir.name)
    assert wait_for_state(run_dir, timeout=60) == "cancelled"
    info = load_run(run_dir)
    assert not info.problems and 1 <= len(info.metrics) < 20
    assert info.summary["epochs_done"] == len(info.metrics)
    assert_files_valid(run_dir)


@pytest.mark.slow
def test_three_runs_at_once_queue_and_all_complete(store, mnist_dir):
    from core.runs.launcher import QUEUE_LIMIT

    run_dirs = [store / launch_run(small_config(mnist_dir, epochs=1, seed=i, name="same name"), store)
                for i in range(3)]
    assert len(set(run_dirs)) == 3
    most_running = 0
    deadline = time.time() + 300
    while time.time() < deadline:
        states = [effective_state(read_json(d / "status.json")) for d in run_dirs]
        most_running = max(most_running, states.count("running"))
        if all(s in ("completed", "failed", "cancelled") for s in states):
            break
        time.sleep(0.2)
    assert states == ["completed"] * 3, [read_json(d / "status.json") for d in run_dirs]
    assert most_running <= QUEUE_LIMIT
    for d in run_dirs:
        assert_files_valid(d)
        assert read_json(d / "config.json")["seed"] == run_dirs.index(d)


def test_server_listens_on_localhost_by_default():
    import tomllib

    from tests.conftest import PROJECT_ROOT
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"


def test_a_running_run_cannot_be_deleted(running_store):
    from core.runs.store import delete_run

    run_id = list_runs(running_store)[0].run_id
    with pytest.raises(RunStoreError, match="cancel"):
        delete_run(running_store, run_id)
    assert (running_store / run_id / "model.pt").exists()


def test_a_rename_while_queued_is_kept_when_the_run_starts(mnist_dir, tmp_path):
    """The run rewrites config.json once it has loaded its data: the name given while it
    waited in the queue must survive that."""
    import threading

    from core.runs.liveness import identity
    from core.runs.run_process import run_training
    from core.runs.store import rename_run, write_status

    runs = tmp_path / "runs"
    blocker = runs / "20260101-000000-blocker-0001"
    blocker.mkdir(parents=True)
    write_status(blocker, state="running", **identity(os.getpid()))  # holds the only slot
    run_id = "20260101-000001-queued-0002"
    thread = threading.Thread(target=run_training, args=(small_config(mnist_dir, epochs=1, train_limit=500),),
                              kwargs=dict(runs_dir=runs, run_id=run_id, queue_limit=1))
    (runs / run_id).mkdir()
    thread.start()
    deadline = time.time() + 30
    while time.time() < deadline and not (runs / run_id / "config.json").exists():
        time.sleep(0.05)
    assert read_json(runs / run_id / "status.json")["state"] == "queued"
    rename_run(runs, run_id, "renamed while queued")
    write_status(blocker, state="completed")
    thread.join(timeout=120)
    assert read_json(runs / run_id / "status.json")["state"] == "completed"
    assert read_json(runs / run_id / "config.json")["name"] == "renamed while queued"


def test_a_relative_store_setting_means_one_folder_for_the_app_and_its_children(monkeypatch, tmp_path):
    from core.runs.store import RUNS_DIR_ENV, runs_dir_setting

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RUNS_DIR_ENV, "my-runs")
    assert runs_dir_setting() == tmp_path / "my-runs"  # absolute, taken from where the app started


def test_relative_folder_settings_reach_children_as_the_app_means_them(monkeypatch, tmp_path):
    """MNIST_DATA_DIR=data (and the store and handwriting settings) name the app's own
    folders: a child, started in the project folder, is handed them absolute."""
    from core.engine.data import DATA_DIR_ENV
    from core.runs.handwriting_sets import HANDWRITING_DIR_ENV
    from core.runs.launcher import child_environment
    from core.runs.store import RUNS_DIR_ENV

    monkeypatch.chdir(tmp_path)
    for name, value in ((DATA_DIR_ENV, "data"), (RUNS_DIR_ENV, "my-runs"), (HANDWRITING_DIR_ENV, "sets")):
        monkeypatch.setenv(name, value)
    env = child_environment()
    assert env[DATA_DIR_ENV] == str(tmp_path / "data")
    assert env[RUNS_DIR_ENV] == str(tmp_path / "my-runs")
    assert env[HANDWRITING_DIR_ENV] == str(tmp_path / "sets")
