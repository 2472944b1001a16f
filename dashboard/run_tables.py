"""Run listings as pandas tables: one row per run, and the settings that differ."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from core.runs.store import RunInfo
from dashboard.links import page_link

KEY_SETTINGS = ("activation", "pooling", "dropout", "optimizer", "lr", "epochs", "batch_size")
# Bookkeeping that always differs between runs and says nothing about the recipe: when
# and where a run was made, and its command line (a launched run's names its own folder;
# the options in it are rows of their own). What can change the results stays: library
# versions, the git commit and dirty flag, the platform, the device.
NOT_SETTINGS = {"created_at", "name", "data_source", "data_dir", "sweep_id", "command", "host"}


def run_label(run: RunInfo) -> str:
    """A run's name with its id, or only the id when it has no name."""
    return run.run_id if run.name == run.run_id else f"{run.name} ({run.run_id})"


def _duration(run: RunInfo) -> float | None:
    try:
        start = datetime.fromisoformat(run.status["started_at"])
        end = datetime.fromisoformat(run.status["ended_at"])
        return round((end - start).total_seconds(), 1)
    except (KeyError, TypeError, ValueError):
        seconds = sum(row.get("epoch_seconds", 0.0) for row in run.metrics)
        return round(seconds, 1) if run.metrics else None


def _best_val(run: RunInfo) -> float | None:
    if "best_val_acc" in run.summary:
        return run.summary["best_val_acc"]
    values = [row["val_acc"] for row in run.metrics if row["val_acc"] == row["val_acc"]]  # not NaN
    return max(values, default=None)


def _links(run: RunInfo) -> dict:
    """Relative links to the pages that show this run's model (none without one)."""
    usable = run.has_model and not run.broken
    return {page: page_link(page, run=run.run_id) if usable else None for page in VIEW_PAGES}


def run_row(run: RunInfo) -> dict:
    cfg = run.config
    widths = cfg.get("widths")
    return {
        "name": run.name, "state": run.state, "model": cfg.get("model"),
        "dataset": cfg.get("dataset", "mnist"), "test acc": run.summary.get("test_acc"),
        "other handwriting": run.summary.get("other_acc"), "best val acc": _best_val(run), "time (s)": _duration(run),
        **{key: cfg.get(key) for key in KEY_SETTINGS},
        "widths": ",".join(str(w) for w in widths) if isinstance(widths, list) else None,
        "parameters": cfg.get("parameters"), "epochs done": len(run.metrics),
        "problems": "; ".join(run.problems) or (run.status.get("error") or ""),
        "sweep": cfg.get("sweep_id") or "", "run id": run.run_id, **_links(run),
    }


VIEW_PAGES = ("evaluate", "filters", "draw")
COLUMNS = ["name", *VIEW_PAGES, "state", "model", "dataset", "test acc", "other handwriting", "best val acc",
           "time (s)", *KEY_SETTINGS, "widths", "parameters", "epochs done", "problems", "sweep", "run id"]


def runs_frame(runs: list[RunInfo]) -> pd.DataFrame:
    frame = pd.DataFrame([run_row(r) for r in runs], columns=COLUMNS)
    for col in ("dropout", "lr", "best val acc", "test acc", "other handwriting", "time (s)"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    for col in ("epochs", "batch_size", "parameters", "epochs done"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    return frame


def _cell(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _settings(config: dict) -> dict:
    """A config's settings, a nested record (versions, git) one row per entry: `versions.torch`."""
    flat = {}
    for key, value in config.items():
        if key in NOT_SETTINGS:
            continue
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            flat[key] = value
    return flat


def settings_diff(runs: list[RunInfo]) -> pd.DataFrame:
    """Rows = settings whose value is not the same in every run, columns = runs."""
    settings = [_settings(r.config) for r in runs]
    keys = sorted({k for s in settings for k in s})
    rows = {}
    for key in keys:
        values = [_cell(s.get(key)) for s in settings]
        if len(set(values)) > 1:
            rows[key] = values
    return pd.DataFrame.from_dict(rows, orient="index", columns=[run_label(r) for r in runs])
