"""core.adapt on a synthetic writer: the adapted model reads the writer's held-out
digits with at most a quarter of the parent's errors and costs MNIST at most 0.2
points; the run keeps the run-directory contract; a killed adaptation leaves the
set and the parent untouched; core.evaluate --handwriting scores a run on a set."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs.handwriting_sets import HandwritingSet
from core.runs.states import LIVE_STATES
from core.runs.store import DEFAULT_MODEL_DIR, effective_state, read_json
from tests.conftest import wait_for
from tests.writers import WRITERS, writer_samples

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def writer_set(tmp_path_factory) -> HandwritingSet:
    """The continental writer: 25 of each digit (a hatted 1 and a curled 7 the default model misreads)."""
    hw = HandwritingSet.create("continental", tmp_path_factory.mktemp("sets"), canvas=(280, 280))
    for digit, rgba in writer_samples(WRITERS["continental"], 25, seed=7):
        hw.add(digit, rgba)
    return hw


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_adapting_to_a_writer_cuts_their_errors_and_keeps_mnist(writer_set, mnist_dir, tmp_path):
    parent_sha = sha(DEFAULT_MODEL_DIR / "model.pt")
    out = cli("core.adapt", "--handwriting", str(writer_set.path), "--runs-dir", str(tmp_path), "--holdout", "0.8",
              "--name", "me")
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.splitlines()[0])
    assert run_dir.parent == tmp_path
    for name in ("config.json", "status.json", "metrics.csv", "model.pt", "evaluation.json"):
        assert (run_dir / name).is_file(), name
    assert len(list((run_dir / "epochs").glob("epoch-*.pt"))) == 4  # the parent's weights, then 3 rounds
    config = json.loads((run_dir / "config.json").read_text())
    assert config["adapted_from"]["model_sha256"] == parent_sha
    assert config["handwriting"]["name"] == "continental" and config["handwriting"]["counts"] == [25] * 10
    assert config["handwriting"]["sha256"] == read_sha(writer_set) and config["handwriting"]["taught"] == 50
    report = json.loads((run_dir / "evaluation.json").read_text())["adaptation"]
    held = report["held_out"]
    assert held["samples"] == 200
    parent_errors = len(held["parent"]["misclassified"])
    adapted_errors = len(held["adapted"]["misclassified"])
    assert parent_errors >= 20, "the writer's habits should trouble the parent"
    assert adapted_errors <= parent_errors / 4, (parent_errors, adapted_errors)
    assert report["parent_test_acc"] - report["test_acc"] <= 0.0025, report  # 0.2 points, and the noise of one seed
    assert "parent" in out.stderr and "adapted" in out.stderr
    # the adapted run predicts like any other: a 7 its own report does not list as misread
    misread = {Path(w["file"]).name for w in held["adapted"]["misclassified"]}
    first = next(f for f in sorted((writer_set.path / "7").glob("*.png")) if f.name not in misread)
    pred = json.loads(cli("core.predict", "--run", str(run_dir), str(first)).stdout)
    assert pred["digit"] == 7
    assert sha(DEFAULT_MODEL_DIR / "model.pt") == parent_sha


def read_sha(hw: HandwritingSet) -> str:
    from core.engine.handwriting import read_handwriting
    return read_handwriting(hw.path).sha256


def test_holdout_zero_claims_no_held_out_figure(writer_set, mnist_dir, tmp_path):
    out = cli("core.adapt", "--handwriting", str(writer_set.path), "--runs-dir", str(tmp_path), "--holdout", "0")
    assert out.returncode == 0, out.stderr
    assert "no held-out figure" in out.stderr
    report = json.loads((Path(out.stdout.splitlines()[0]) / "evaluation.json").read_text())
    assert report["adaptation"]["held_out"] is None


def test_a_killed_adaptation_leaves_the_set_and_the_parent(writer_set, mnist_dir, tmp_path):
    before_set, before_parent = writer_set.content_hash(), sha(DEFAULT_MODEL_DIR / "model.pt")
    proc = subprocess.Popen([sys.executable, "-m", "core.adapt", "--handwriting", str(writer_set.path),
                             "--runs-dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    run_dir = Path(proc.stdout.readline().strip())
    # Mid-adaptation: its first round is written (a metrics row), the rest is not.
    assert wait_for(lambda: (run_dir / "metrics.csv").is_file() or proc.poll() is not None, timeout=120)
    assert proc.poll() is None, "the adaptation ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert effective_state(read_json(run_dir / "status.json")) not in LIVE_STATES  # its owner is gone
    assert writer_set.content_hash() == before_set and len(writer_set.samples()) == 250
    assert sha(DEFAULT_MODEL_DIR / "model.pt") == before_parent


@pytest.mark.parametrize("args, match", [
    (["--holdout", "2"], "outside 0 to 0.9"),
    (["--run", "/nonexistent"], "does not exist"),
])
def test_bad_options_end_in_one_line(writer_set, args, match, tmp_path):
    out = cli("core.adapt", "--handwriting", str(writer_set.path), "--runs-dir", str(tmp_path), *args)
    assert out.returncode == 2 and match in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_a_folder_without_digit_folders_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    out = cli("core.adapt", "--handwriting", str(tmp_path), "--runs-dir", str(tmp_path / "runs"))
    assert out.returncode == 2 and "folders named 0 to 9" in out.stderr, out.stderr


def test_evaluate_scores_a_run_on_a_set(writer_set):
    out = cli("core.evaluate", "--handwriting", str(writer_set.path))
    assert out.returncode == 0, out.stderr
    assert "on 'continental'" in out.stdout and "confusion" in out.stdout
    assert "7 read as 2" in out.stdout  # the curled 7, misread by the default model
