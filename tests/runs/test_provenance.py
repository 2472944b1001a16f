"""Provenance in config.json (command line, git, host, library versions) and the
Runs page's settings diff showing a version or commit that differs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import torch

from core.runs.provenance import git_state, provenance
from core.runs.store import RunInfo, read_json
from dashboard.run_tables import settings_diff

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def launched_config(mnist_dir, tmp_path_factory) -> dict:
    """config.json of a tiny run started as the launcher starts one: `python -m core.train ...`."""
    runs = tmp_path_factory.mktemp("provenance-store")
    args = ["--epochs", "1", "--train-limit", "2000", "--widths", "8,16", "--hidden", "32", "--val-size", "500",
            "--augment", "0", "--runs-dir", str(runs), "--data-dir", str(mnist_dir)]
    out = subprocess.run([sys.executable, "-m", "core.train", *args], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return read_json(Path(out.stdout.splitlines()[0]) / "config.json")


def test_config_records_the_real_command_line(launched_config):
    command = launched_config["command"]
    assert command["argv"][:3] == [sys.executable, "-m", "core.train"]
    assert command["argv"][3:5] == ["--epochs", "1"]
    assert command["line"].startswith(f"{sys.executable} -m core.train --epochs 1 ")
    assert command["executable"] == sys.executable


def test_config_records_git_host_and_versions(launched_config):
    assert launched_config["git"]["commit"] == git("rev-parse", "HEAD")
    assert launched_config["git"]["dirty"] is (git("status", "--porcelain") != "")
    assert launched_config["host"] == socket.gethostname() and launched_config["platform"]
    versions = launched_config["versions"]
    assert versions["torch"] == torch.__version__ and versions["numpy"] == numpy.__version__
    assert versions["torchvision"] and versions["python"] == ".".join(map(str, sys.version_info[:3]))
    if torch.cuda.is_available():
        assert versions["cuda"] == torch.version.cuda and versions["cudnn"] == torch.backends.cudnn.version()
    else:
        assert versions["cuda"] is None and versions["cudnn"] is None


def test_without_a_repository_or_without_git_the_commit_is_null(tmp_path, monkeypatch):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}
    monkeypatch.setenv("PATH", str(tmp_path))  # no git to be found
    assert provenance()["git"] == {"commit": None, "dirty": None}


def run_info(run_id: str, **changes) -> RunInfo:
    config = {"model": "cnn", "lr": 0.01, "name": run_id, "created_at": f"2026-01-01T00:00:0{run_id[-1]}",
              "command": {"line": f"python -m core.train --run-id {run_id}"}, "host": f"host-{run_id}",
              "git": {"commit": "a" * 40, "dirty": False},
              "versions": {"python": "3.11.7", "torch": "2.5.0", "numpy": "2.1.0", "cuda": None}}
    for key, value in changes.items():
        section, _, inner = key.partition("__")
        if inner:
            config[section] = {**config[section], inner: value}
        else:
            config[key] = value
    return RunInfo(run_id=run_id, path=Path(run_id), config=config)


def test_settings_diff_shows_a_differing_version_or_commit():
    same = settings_diff([run_info("run-1"), run_info("run-2")])
    assert same.empty  # name, time, command line and host always differ: not settings

    diff = settings_diff([run_info("run-1"), run_info("run-2", versions__torch="2.6.0", git__commit="b" * 40,
                                                       git__dirty=True)])
    assert list(diff.index) == ["git.commit", "git.dirty", "versions.torch"]
    assert list(diff.loc["versions.torch"]) == ["2.5.0", "2.6.0"]
    assert list(diff.loc["git.commit"]) == ["a" * 40, "b" * 40]

    cuda = settings_diff([run_info("run-1"), run_info("run-2", versions__cuda="12.4", lr=0.1)])
    assert list(cuda.index) == ["lr", "versions.cuda"] and list(cuda.loc["versions.cuda"]) == ["", "12.4"]
