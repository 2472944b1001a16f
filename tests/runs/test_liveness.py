"""Run and sweep liveness (core.runs.liveness): host + pid + start time on this machine,
a heartbeat from another; cancelling through the `cancel` file, and never signalling
a process whose identity does not match. Fast, no MNIST, except the one `slow` test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from core.runs import liveness
from core.runs.launcher import cancel_run
from core.runs.liveness import CANCEL_FILE, HEARTBEAT_EVERY_S, HEARTBEAT_STALE_S, Heartbeat, identity, is_alive
from core.runs.queue import running_runs, wait_for_slot
from core.runs.store import (
    RunStoreError,
    delete_run,
    effective_state,
    read_json,
    write_json_atomic,
    write_status,
)
from tests.conftest import wait_for_state

RUN_ID = "20260101-000000-liveness-0001"


def ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="seconds")


def make_run(runs_dir: Path, run_id: str = RUN_ID, **status) -> Path:
    run_dir = runs_dir / run_id
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", {"name": run_id})
    write_json_atomic(run_dir / "status.json", status)
    return run_dir


def reused_pid(pid: int | None = None) -> dict:
    """The identity of a process that had this pid once: same host and pid, another start time."""
    me = identity(pid)
    return {**me, "pid_started": me["pid_started"] - 3600.0}


def elsewhere(heartbeat_age_s: float) -> dict:
    """A run on another host of a cluster; its pid is this process's, which must not matter."""
    return {**identity(), "host": "elsewhere-" + liveness.this_host(), "heartbeat_at": ago(heartbeat_age_s)}


@pytest.fixture
def sigterms():
    """SIGTERMs this test process receives (recorded, not fatal) while the test runs."""
    got = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        yield got
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def sleeper():
    child = subprocess.Popen(["sleep", "60"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_reads_failed_and_is_never_signalled(store, sigterms, sleeper):
    run_dir = make_run(store, state="running", **reused_pid())  # this test process, a wrong start time
    assert effective_state(read_json(run_dir / "status.json")) == "failed"
    assert cancel_run(store, RUN_ID) is False
    assert (run_dir / CANCEL_FILE).exists()  # the request is written all the same
    other = make_run(store, "20260101-000000-liveness-0002", state="running", **reused_pid(sleeper.pid))
    assert effective_state(read_json(other / "status.json")) == "failed"
    assert cancel_run(store, other.name) is False
    assert (other / CANCEL_FILE).exists()
    time.sleep(0.3)
    assert sigterms == [] and sleeper.poll() is None, "a process that merely has the pid was signalled"


def test_a_bare_pid_without_a_start_time_is_not_trusted(store, sigterms):
    run_dir = make_run(store, state="running", pid=os.getpid())  # an old record: a pid, nothing else
    assert effective_state(read_json(run_dir / "status.json")) == "failed"
    cancel_run(store, RUN_ID)
    time.sleep(0.2)
    assert sigterms == []


def test_this_host_with_the_right_identity_is_running(store, sleeper):
    run_dir = make_run(store, state="running", **identity(sleeper.pid))
    status = read_json(run_dir / "status.json")
    assert status["host"] == liveness.this_host() and isinstance(status["pid_started"], float)
    assert effective_state(status) == "running"
    assert cancel_run(store, RUN_ID) is True
    assert (run_dir / CANCEL_FILE).exists()
    # Host, pid and start time match, but `sleep` is not a Digit Lab run: a forged record
    # gets its cancel file and never a signal.
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=1.5)


def test_only_our_entry_points_count_and_a_planted_cancel_link_is_not_followed(store, tmp_path):
    from core.runs.liveness import is_digit_lab_process, request_cancel

    class Process:  # what psutil reports of a process's command line
        def __init__(self, *argv):
            self.argv = list(argv)

        def cmdline(self):
            return self.argv

    assert is_digit_lab_process(Process("/usr/bin/python3", "-m", "core.train", "--run-id", "x"))
    assert is_digit_lab_process(Process("ray::ImplicitFunc.train"))
    assert not is_digit_lab_process(Process("sleep", "60"))
    assert not is_digit_lab_process(Process("python3", "-c", "import core.train"))
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / CANCEL_FILE).symlink_to(outside)
    request_cancel(folder)
    assert outside.read_text() == "keep"  # the link was not written through


def test_another_host_lives_by_its_heartbeat(store):
    fresh = make_run(store, state="running", **elsewhere(HEARTBEAT_EVERY_S))
    stale = make_run(store, "20260101-000000-liveness-0002", state="running", **elsewhere(HEARTBEAT_STALE_S + 30))
    none = make_run(store, "20260101-000000-liveness-0003", state="running",
                    **{**elsewhere(0), "heartbeat_at": None})
    assert effective_state(read_json(fresh / "status.json")) == "running"
    assert effective_state(read_json(stale / "status.json")) == "failed"  # though its pid is alive here
    assert effective_state(read_json(none / "status.json")) == "failed"


def test_a_run_on_another_host_is_cancelled_through_the_file(store, sigterms):
    run_dir = make_run(store, state="running", **elsewhere(1))  # pid: this process, on "another host"
    assert cancel_run(store, RUN_ID) is True
    assert (run_dir / CANCEL_FILE).exists()
    time.sleep(0.3)
    assert sigterms == []


def test_a_zombie_or_vanished_pid_reads_failed(store):
    child = subprocess.Popen(["sleep", "0.3"])
    run_dir = make_run(store, state="running", **identity(child.pid))
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped yet
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert effective_state(read_json(run_dir / "status.json")) == "failed"
    child.wait()  # reaped: the pid is gone
    assert effective_state(read_json(run_dir / "status.json")) == "failed"
    assert not liveness.signal_owner(read_json(run_dir / "status.json"))


def test_a_launched_child_without_a_pid_is_queued_for_a_while(store):
    recent = make_run(store, state="queued", pid=None, launched_at=ago(5))
    old = make_run(store, "20260101-000000-liveness-0002", state="queued", pid=None,
                   launched_at=ago(liveness.START_TIMEOUT_S + 5))
    assert effective_state(read_json(recent / "status.json")) == "queued"
    assert effective_state(read_json(old / "status.json")) == "failed"
    assert cancel_run(store, recent.name) is True  # not started yet: it will find the file
    assert (recent / CANCEL_FILE).exists()


def test_the_queue_counts_only_live_owners(store):
    make_run(store, "20260101-000000-live-0001", state="running", **identity())
    make_run(store, "20260101-000000-reused-0002", state="running", **reused_pid())
    make_run(store, "20260101-000000-stale-0003", state="running", **elsewhere(HEARTBEAT_STALE_S + 30))
    make_run(store, "20260101-000000-remote-0004", state="running", **elsewhere(2))
    assert running_runs(store) == 2
    waiting = make_run(store, "20260101-000000-waiting-0005", state="queued", **identity())
    assert wait_for_slot(store, waiting, 3, lambda: True) is True  # the dead two hold no slot
    assert read_json(waiting / "status.json")["state"] == "running"


def test_delete_refuses_a_live_run_and_accepts_a_dead_identity(store):
    make_run(store, state="running", **identity())
    with pytest.raises(RunStoreError, match="cancel"):
        delete_run(store, RUN_ID)
    make_run(store, "20260101-000000-liveness-0002", state="running", **reused_pid())
    delete_run(store, "20260101-000000-liveness-0002")
    assert not (store / "20260101-000000-liveness-0002").exists()
    make_run(store, "20260101-000000-liveness-0003", state="running", **elsewhere(HEARTBEAT_STALE_S + 30))
    delete_run(store, "20260101-000000-liveness-0003")


def test_heartbeat_and_main_thread_never_lose_each_others_fields(tmp_path):
    write_status(tmp_path, state="running")
    with Heartbeat(lambda: write_status(tmp_path, heartbeat_at=liveness.now_iso()), every=0.001):
        for i in range(40):
            write_status(tmp_path, **{f"field{i}": i})
    status = read_json(tmp_path / "status.json")
    assert all(status.get(f"field{i}") == i for i in range(40)) and status["heartbeat_at"]


def test_sweep_identity_heartbeat_and_cancel(tmp_path, sigterms):
    from core.runs.launcher import cancel_sweep
    from core.runs.sweeps.driver import SweepDriver
    from core.runs.sweeps.record import load_sweep, sweeps_dir_for, write_record

    runs = tmp_path / "runs"
    runs.mkdir()
    sweep_id = "20260101-000000-sweep-0001"
    sweep_dir = sweeps_dir_for(runs) / sweep_id
    sweep_dir.mkdir(parents=True)
    trials = [{"index": 0, "run_id": "20260101-000000-t0-0001", "point": {}, "seed": 0, "state": "queued"}]
    driver = SweepDriver(sweep_dir, {"id": sweep_id, "state": "running", **identity(), "trials": trials})
    with Heartbeat(driver.heartbeat, every=0.001):
        for epoch in range(1, 31):
            driver.epoch(0, {"epoch": epoch, "val_acc": epoch / 100})
    assert load_sweep(runs, sweep_id)["state"] == "running"
    assert read_json(sweep_dir / "sweep.json")["trials"][0]["epochs_done"] == 30

    write_record(sweep_dir, {"id": sweep_id, "state": "running", **reused_pid(), "trials": []})
    assert load_sweep(runs, sweep_id)["state"] == "failed"
    assert cancel_sweep(runs, sweep_id) is False
    write_record(sweep_dir, {"id": sweep_id, "state": "running", **elsewhere(1), "trials": []})
    assert load_sweep(runs, sweep_id)["state"] == "running"
    assert cancel_sweep(runs, sweep_id) is True and (sweep_dir / "cancel").exists()
    time.sleep(0.3)
    assert sigterms == []


def _cancel_cfg():
    from core.engine.config import from_preset
    return from_preset(None, model="cnn", widths=(4, 8), hidden=16, epochs=1, train_limit=2000, val_size=500)


def test_a_queued_run_stops_on_its_cancel_file(store):
    """In-process run_training: cancelled before it starts, and while it waits for a slot."""
    from core.runs.run_process import run_training

    early = make_run(store, "20260101-000000-early-0001", state="queued", pid=None, launched_at=ago(1))
    (early / CANCEL_FILE).touch()
    run_training(_cancel_cfg(), store, run_id=early.name, queue_limit=0)
    status = read_json(early / "status.json")
    assert status["state"] == "cancelled" and not (early / "metrics.csv").exists()
    assert status["host"] == liveness.this_host() and status["pid"] == os.getpid() and status["pid_started"]

    make_run(store, "20260101-000000-busy-0002", state="running", **identity())  # holds the one slot
    waiting = make_run(store, "20260101-000000-waiting-0003", state="queued", pid=None, launched_at=ago(1))
    worker = threading.Thread(target=run_training, args=(_cancel_cfg(), store),
                              kwargs={"run_id": waiting.name, "queue_limit": 1}, daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while read_json(waiting / "status.json").get("pid") != os.getpid():  # the run has recorded itself
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.5)
    assert read_json(waiting / "status.json")["state"] == "queued"  # waiting for the slot
    (waiting / CANCEL_FILE).touch()
    worker.join(timeout=30)
    assert not worker.is_alive() and read_json(waiting / "status.json")["state"] == "cancelled"


@pytest.mark.slow
def test_a_real_run_ends_cancelled_when_its_cancel_file_appears(store, mnist_dir):
    """A real `python -m core.train` child: identity and heartbeat recorded, stopped by the file alone."""
    run_dir = store / "20260101-000000-e2e-0001"
    command = [sys.executable, "-m", "core.train", "--model", "cnn", "--widths", "4,8", "--hidden", "16",
               "--epochs", "50", "--train-limit", "2000", "--val-size", "500", "--data-dir", str(mnist_dir),
               "--runs-dir", str(store), "--run-id", run_dir.name]
    with open(store / "e2e.log", "wb") as log:
        child = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "progress.json").exists():  # training, not just started
            assert child.poll() is None and time.monotonic() < deadline, (store / "e2e.log").read_text()
            time.sleep(0.2)
        status = read_json(run_dir / "status.json")
        assert effective_state(status) == "running"
        assert (status["host"], status["pid"]) == (liveness.this_host(), child.pid)
        assert status["pid_started"] == pytest.approx(psutil.Process(child.pid).create_time(), abs=1)
        first_beat = status["heartbeat_at"]
        time.sleep(HEARTBEAT_EVERY_S + 1.5)  # the heartbeat moves on while it trains
        assert read_json(run_dir / "status.json")["heartbeat_at"] > first_beat
        (run_dir / CANCEL_FILE).touch()  # no signal: only the file
        assert wait_for_state(run_dir, timeout=90) == "cancelled", (store / "e2e.log").read_text()
        assert child.wait(timeout=60) in (0, 1)
        status = read_json(run_dir / "status.json")
        assert not is_alive(status) and status["ended_at"]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
