"""Cached reads of the run store, models and MNIST for the pages.

Listing is cheap and cached for two seconds (a live run shows up quickly);
models are cached per path and modification time, so a retrained model.pt is
picked up without restarting the app. Nothing here trains or writes.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.runs.checkpoint import CheckpointError, load_model
from core.runs.launcher import cluster_address_setting
from core.runs.store import (
    DEFAULT_MODEL_DIR,
    RunInfo,
    RunStoreError,
    list_runs,
    load_run,
    read_json,
    run_path,
    runs_dir_setting,
)
from core.runs.store_files import PROGRESS_FIELDS, record_problems, report_problems


def runs_dir() -> Path:
    return runs_dir_setting()


@st.cache_data(ttl=2, show_spinner=False)
def _cached_runs(runs_dir_str: str) -> list[RunInfo]:
    return list_runs(Path(runs_dir_str))


def all_runs() -> list[RunInfo]:
    """Every run in the store, newest first (cached for 2 s)."""
    return _cached_runs(str(runs_dir()))


def refresh_runs() -> None:
    """Forget the cached listing (after a rename, delete or launch)."""
    _cached_runs.clear()


def fresh_run(run_id: str) -> RunInfo | None:
    """One run read now, uncached (for live views); None if the folder is gone."""
    try:
        path = run_path(runs_dir(), run_id)  # the one checked way from an id to a folder
    except RunStoreError:
        return None
    return load_run(path) if path.is_dir() else None


def read_progress(run_dir: Path) -> dict:
    """A live run's progress.json, or {} when it is absent, unreadable or off."""
    try:
        progress = read_json(Path(run_dir) / "progress.json")
    except (OSError, ValueError):
        return {}
    return {} if record_problems(progress, PROGRESS_FIELDS, "progress.json") else progress


def _mtime(path: Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


# Enough for an epoch slider dragged end to end and four runs side by side.
@st.cache_resource(max_entries=48, show_spinner="Loading model...")
def _cached_model(path_str: str, mtime: float):
    return load_model(Path(path_str))


def get_model(path: Path):
    """(model, config, checkpoint) for a model.pt; raises CheckpointError with a readable message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name} does not exist in {path.parent}")
    return _cached_model(str(path), _mtime(path))


@st.cache_data(max_entries=16, show_spinner=False)
def _cached_evaluation(path_str: str, mtime: float) -> dict:
    report = read_json(Path(path_str))
    problems = report_problems(report)
    if problems:
        raise ValueError(problems[0])
    return report


def get_evaluation(run_dir: Path) -> dict:
    """evaluation.json of a run; raises OSError/ValueError if missing or unreadable."""
    path = Path(run_dir) / "evaluation.json"
    evaluation = _cached_evaluation(str(path), _mtime(path))
    if not isinstance(evaluation, dict) or "confusion" not in evaluation:
        raise ValueError("evaluation.json has no confusion matrix")
    return evaluation


@st.cache_resource(show_spinner="Loading the test digits...")
def _cached_test_set(dataset: str, side: int):
    from core.engine.data import DataError
    from core.engine.datasets import load_test_set

    try:
        return load_test_set(dataset, side=side), None
    except DataError as e:
        return None, str(e)


def test_set(dataset: str = "mnist", side: int = 28):
    """(images uint8 [N,side,side], labels [N], None) of a dataset's test set ("mnist" or
    "usps"; 28x28 for display, a 16x16 model's own side to score), or (None, None, message)."""
    test, error = _cached_test_set(dataset, side)
    if test is None:
        return None, None, error
    return test.images, test.labels, None


@st.cache_resource(show_spinner="Loading training digits...")
def _cached_train_sample(dataset: str, count: int):
    from core.engine.data import DataError
    from core.engine.datasets import load_digits

    try:
        return load_digits(dataset).train_images[:count].clone(), None
    except DataError as e:
        return None, str(e)


def train_sample(dataset: str, count: int):
    """(the first `count` training digits of a dataset, uint8 [N,28,28], None) or (None, message)."""
    return _cached_train_sample(dataset, count)


def default_model_path() -> Path:
    return DEFAULT_MODEL_DIR / "model.pt"


def default_model_summary() -> dict:
    """What is known about the default model: its evaluation summary and config, if stored beside it."""
    info: dict = {}
    for name in ("evaluation.json", "config.json"):
        path = DEFAULT_MODEL_DIR / name
        if path.is_file():
            try:
                data = read_json(path)
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                info[name] = data.get("summary", {}) if name == "evaluation.json" else data
    return info


def default_model_run() -> RunInfo | None:
    """The default model's folder read as a run (it holds a run's files), if it is there."""
    return load_run(DEFAULT_MODEL_DIR) if (DEFAULT_MODEL_DIR / "evaluation.json").is_file() else None


@st.cache_resource(show_spinner=False)
def cluster_address() -> str | None:
    """The Ray cluster the Train page may send runs to: $DIGIT_LAB_RAY_ADDRESS, read once
    per server (a setting, not something a page changes)."""
    return cluster_address_setting()
