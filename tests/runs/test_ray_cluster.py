"""Sweeps on a real two-node Ray cluster (tests/runs/ray_cluster.py): every trial
completes, both nodes run trials, the store and the sweep record agree; and with the
second node killed mid-sweep, its trial is started again on the node left, into the
same run folder, and the sweep still completes every trial."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs.store import list_runs, read_json
from core.runs.sweeps.ray_tune import LOST_NODE
from core.runs.sweeps.record import read_record, sweep_table, sweeps_dir_for
from tests.conftest import PROJECT_ROOT, wait_for
from tests.runs.ray_cluster import two_node_cluster

pytestmark = pytest.mark.slow
SMALL = ["--preset", "fast", "--val-size", "500"]


def sweep(cluster, runs_dir: Path, mnist_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, **cluster.env, "MNIST_DATA_DIR": str(mnist_dir)}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "core.sweep", "--address", cluster.address,
                             "--runs-dir", str(runs_dir), *SMALL, *args],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def the_record(runs_dir: Path) -> dict | None:
    found = list(sweeps_dir_for(runs_dir).glob("*/sweep.json"))
    try:
        return read_record(found[0].parent) if found else None
    except (OSError, ValueError):
        return None


def test_a_sweep_on_a_two_node_cluster_runs_on_both_and_the_store_agrees(tmp_path, mnist_dir):
    runs_dir = tmp_path / "runs"
    with two_node_cluster() as cluster:
        proc = sweep(cluster, runs_dir, mnist_dir, "--grid", "activation=relu,tanh", "--grid", "pooling=max,avg",
                     "--epochs", "1", "--train-limit", "1000")
        out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    record = the_record(runs_dir)
    assert record["state"] == "completed" and record["summary"] == "4 of 4 trials completed", record
    assert record["address"] == cluster.address
    assert {t["node"].split()[1] for t in record["trials"]} == {cluster.head_node, cluster.worker_node}
    assert all(row["node"].endswith(")") for row in sweep_table(record))  # the Sweeps page's column
    runs = {r.run_id: r for r in list_runs(runs_dir)}
    assert set(runs) == {t["run_id"] for t in record["trials"]}
    for t in record["trials"]:
        run = runs[t["run_id"]]
        assert t["state"] == run.state == "completed" and run.config["sweep_id"] == record["id"]
        assert t["test_acc"] == pytest.approx(read_json(run.path / "evaluation.json")["test_acc"])


def test_a_lost_node_costs_no_trial(tmp_path, mnist_dir):
    runs_dir = tmp_path / "runs"
    with two_node_cluster() as cluster:
        proc = sweep(cluster, runs_dir, mnist_dir, "--grid", "activation=relu,tanh", "--epochs", "3",
                     "--train-limit", "6000")

        def training_on_the_worker():
            record = the_record(runs_dir)
            for t in (record or {}).get("trials", []):
                if (t.get("node") or "").endswith(cluster.worker_node) and (t.get("epochs_done") or 0) >= 1:
                    return t
            return None

        lost = wait_for(training_on_the_worker, timeout=120)
        assert lost, f"no trial trained on the second node: {the_record(runs_dir)}"
        cluster.kill_worker_node()
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    record = the_record(runs_dir)
    assert record["state"] == "completed" and record["summary"] == "2 of 2 trials completed", record
    again = next(t for t in record["trials"] if t["index"] == lost["index"])
    assert again["node"].endswith(cluster.head_node) and again["attempts"] == 2 and again["state"] == "completed", out
    run_dir = runs_dir / again["run_id"]
    status = read_json(run_dir / "status.json")
    assert status["state"] == "completed" and status["attempt"] == 2 and status["restarted"] == LOST_NODE
    earlier = read_json(run_dir / "attempts" / "1" / "status.json")
    assert earlier["state"] == "failed" and (run_dir / "attempts" / "1" / "metrics.csv").is_file()
    assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 1 + 3  # from scratch, all 3 epochs
    assert f"restarting trial {lost['index']}" in out


def connect(cluster, home: Path, tmp_path: Path, mnist_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "MNIST_DATA_DIR": str(mnist_dir)}
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "core.sweep", "--address", cluster.address, "--runs-dir",
                           str(tmp_path / "runs"), *SMALL, "--epochs", "1", "--train-limit", "500",
                           "--grid", "activation=relu"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_missing_or_unwanted_token_ends_in_one_line_in_seconds(tmp_path, mnist_dir):
    no_token = tmp_path / "no-token"
    no_token.mkdir()
    with two_node_cluster(auth=True, second_node=False) as cluster:
        out = connect(cluster, no_token, tmp_path / "a", mnist_dir)
    assert out.returncode == 2 and "asks for its authentication token" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    stray = tmp_path / "stray-token"
    (stray / ".ray").mkdir(parents=True)
    (stray / ".ray" / "auth_token").write_text("0" * 64)
    with two_node_cluster(auth=False, second_node=False) as cluster:
        out = connect(cluster, stray, tmp_path / "b", mnist_dir)
    assert out.returncode == 2 and "set RAY_AUTH_MODE=disabled" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_a_single_run_trains_on_the_cluster_into_the_shared_store(tmp_path, mnist_dir):
    """`python -m core.train --address`: the head takes no work, so the run goes to the
    second node; its folder fills as a local run's does, and its cancel file stops it."""
    runs_dir = tmp_path / "runs"
    with two_node_cluster(head_cpus=0) as cluster:
        env = {**os.environ, **cluster.env, "MNIST_DATA_DIR": str(mnist_dir)}
        env.pop("RAY_ADDRESS", None)
        done = subprocess.run([sys.executable, "-m", "core.train", "--address", cluster.address, "--runs-dir",
                               str(runs_dir), *SMALL, "--epochs", "2", "--train-limit", "2000"],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        run_dir = Path(done.stdout.splitlines()[0])
        status = read_json(run_dir / "status.json")
        assert status["state"] == "completed" and status["trains_on"].endswith(cluster.worker_node)
        assert status["cluster"] == cluster.address and status["pid"]  # the worker's own process
        assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 3
        assert (run_dir / "evaluation.json").is_file() and (run_dir / "model.pt").is_file()

        slow = subprocess.Popen([sys.executable, "-m", "core.train", "--address", cluster.address, "--runs-dir",
                                 str(runs_dir), *SMALL, "--epochs", "30", "--train-limit", "4000"],
                                cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        slow_dir = Path(slow.stdout.readline().strip())
        assert wait_for(lambda: (slow_dir / "metrics.csv").is_file(), timeout=120), slow_dir
        (slow_dir / "cancel").touch()  # what the Train page's Cancel writes
        _, err = slow.communicate(timeout=120)
        assert read_json(slow_dir / "status.json")["state"] == "cancelled", err
        assert slow.returncode == 1
