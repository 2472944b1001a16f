"""Learning one correction at a time (core.runs.learning_run, core.runs.learning_loops):
the streaming command on a synthetic writer cuts the second half's errors to a third
of the parent's and keeps MNIST; Draw's follower learns each digit added to a set,
a follower killed mid-round leaves weights that load and the next one resumes; two
sets taught at once never mix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs.checkpoint import load_model
from core.runs.files import read_json
from core.runs.handwriting_sets import HandwritingSet
from core.runs.launcher import learn_from_set
from core.runs.learning_run import find_learning_run
from core.runs.snapshots import list_snapshots
from core.runs.store import DEFAULT_MODEL_DIR, list_runs
from tests.writers import WRITERS, writer_samples

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def interleaved_set(root: Path, writer: str, per_digit: int, seed: int) -> HandwritingSet:
    """A writer's digits added 0, 1, ..., 9, 0, 1, ...: file names (time first) in that order."""
    hw = HandwritingSet.create(writer, root, canvas=(280, 280))
    samples = list(writer_samples(WRITERS[writer], per_digit, seed=seed))
    for i in range(per_digit):
        for digit in range(10):
            hw.add(*samples[digit * per_digit + i])
    return hw


def test_streaming_a_writer_cuts_the_second_half_errors_and_keeps_mnist(tmp_path, mnist_dir):
    hw = interleaved_set(tmp_path / "sets", "continental", 10, seed=100)
    out = subprocess.run([sys.executable, "-m", "core.adapt", "--handwriting", str(hw.path), "--stream",
                          "--runs-dir", str(tmp_path / "runs")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    images, summary = lines[:-1], lines[-1]
    assert len(images) == 100 and summary["images"] == 100
    assert [i["file"].split("/")[1] for i in images] == sorted(i["file"].split("/")[1] for i in images)
    for i in images:  # misread: taught; read right: not
        assert set(i) == {"file", "digit", "read_as", "right", "taught", "update_seconds"}
        assert i["taught"] == (not i["right"]) and (i["update_seconds"] is None) == (not i["taught"])
    assert summary["parent_errors_second_half"] >= 6, summary  # the writer's habits are misread
    assert summary["errors_second_half"] * 3 <= summary["parent_errors_second_half"], summary
    assert summary["mnist_before"] - summary["mnist_after"] <= 0.003, summary
    run_dir = Path(summary["run"])
    assert summary["updates"] == sum(i["taught"] for i in images) == len(list_snapshots(run_dir)) - 1
    config = read_json(run_dir / "config.json")
    assert config["adapted_from"]["model_sha256"] == load_model(DEFAULT_MODEL_DIR / "model.pt")[2]["sha256"]
    assert config["handwriting"]["name"] == "continental"
    assert config["handwriting"]["samples"] == summary["updates"] and config["learning"]["mode"] == "stream"
    assert read_json(run_dir / "status.json")["state"] == "completed"


def _learned(run_dir: Path) -> list[str]:
    try:
        return read_json(run_dir / "learned.json")["learned"]
    except (OSError, ValueError):
        return []


def _wait_learned(run_dir: Path, count: int, timeout: float = 90.0) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        learned = _learned(run_dir)
        if len(learned) >= count:
            return learned
        time.sleep(0.1)
    log = (run_dir / "learn.log").read_text()[-2000:] if (run_dir / "learn.log").exists() else ""
    pytest.fail(f"learned {len(_learned(run_dir))} of {count} in {timeout} s: {log}")


def _stop(run_dir: Path) -> None:
    (run_dir / "cancel").touch()
    status = read_json(run_dir / "status.json")
    deadline = time.time() + 30
    while status.get("state") in ("queued", "running") and time.time() < deadline:
        time.sleep(0.2)
        status = read_json(run_dir / "status.json")


def test_the_follower_learns_each_digit_and_a_killed_round_loses_nothing(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
    runs = tmp_path / "runs"
    hw = HandwritingSet.create("me", tmp_path / "sets", canvas=(280, 280))
    samples = list(writer_samples(WRITERS["continental"], 3, seed=3))
    hw.add(*samples[3])  # a hatted 1
    run_id = learn_from_set(DEFAULT_MODEL_DIR, hw.path, runs)
    run_dir = runs / run_id
    try:
        _wait_learned(run_dir, 1)
        assert learn_from_set(DEFAULT_MODEL_DIR, hw.path, runs, run_id) == run_id  # alive: not started twice
        pid = read_json(run_dir / "status.json")["pid"]
        hw.add(*samples[21])  # a curled 7
        time.sleep(0.4)  # into the round
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # this test started it: reap it, so it is gone before the next click looks
        model, _, ckpt = load_model(run_dir / "model.pt")  # the last good weights, whole
        assert ckpt["epoch"] in (1, 2) and len(_learned(run_dir)) == ckpt["epoch"]
        assert sum(hw.counts()) == 2
        hw.add(*samples[22])
        learn_from_set(DEFAULT_MODEL_DIR, hw.path, runs, run_id)  # the next correction starts it again
        learned = _wait_learned(run_dir, 3)
        assert sorted(learned) == sorted(f"{s.digit}/{s.id}.png" for s in hw.samples())
        epoch = load_model(run_dir / "model.pt")[2]["epoch"]
        deadline = time.time() + 20  # the round's snapshot and metrics row follow its weights
        while len(rows := (run_dir / "metrics.csv").read_text().splitlines()[1:]) < epoch and time.time() < deadline:
            time.sleep(0.1)
        assert [int(r.split(",")[0]) for r in rows] == list(range(1, epoch + 1))
        assert list_snapshots(run_dir)[-1] == epoch
    finally:
        _stop(run_dir)


def test_two_sets_taught_at_once_do_not_mix(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
    runs = tmp_path / "runs"
    sets = {w: HandwritingSet.create(w, tmp_path / "sets", canvas=(280, 280)) for w in ("continental", "curly")}
    for seed, (writer, hw) in enumerate(sets.items()):
        for digit, rgba in list(writer_samples(WRITERS[writer], 1, seed=seed))[:4]:
            hw.add(digit, rgba)
    run_ids = {w: learn_from_set(DEFAULT_MODEL_DIR, hw.path, runs) for w, hw in sets.items()}
    try:
        for writer, hw in sets.items():
            learned = _wait_learned(runs / run_ids[writer], 4)
            assert sorted(learned) == sorted(f"{s.digit}/{s.id}.png" for s in hw.samples())
            assert read_json(runs / run_ids[writer] / "config.json")["handwriting"]["name"] == writer
        listed = list_runs(runs)
        parent_sha = load_model(DEFAULT_MODEL_DIR / "model.pt")[2]["sha256"]
        for writer, hw in sets.items():
            assert find_learning_run(listed, parent_sha, hw).run_id == run_ids[writer]
        assert find_learning_run(listed, "0" * 64, sets["curly"]) is None  # another parent: not this one
        sets["curly"].delete()  # deleting a set stops its learning, says so, and keeps the run
        deadline = time.time() + 30
        while read_json(runs / run_ids["curly"] / "status.json")["state"] == "running" and time.time() < deadline:
            time.sleep(0.2)
        status = read_json(runs / run_ids["curly"] / "status.json")
        assert status["state"] == "completed" and "deleted" in status["note"], status
        assert load_model(runs / run_ids["curly"] / "model.pt")[2]["epoch"] >= 1
        assert read_json(runs / run_ids["continental"] / "status.json")["state"] == "running"
    finally:
        for run_id in run_ids.values():
            _stop(runs / run_id)
