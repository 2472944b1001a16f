"""The sweep record, `<runs_dir>/../sweeps/<sweep-id>/sweep.json`, and reading it back.

Only the sweep's own process writes sweep.json (atomically); readers refresh each
trial from its run directory, the source of truth once the trial has started.
Beside it: `cancel` (a flag file: trials stop when it appears), `sweep.log`
(the output of a launched sweep) and `ray/` (Ray Tune's own files).
"""

from __future__ import annotations

import math
from pathlib import Path

from core.runs.liveness import CANCEL_FILE
from core.runs.states import LIVE_STATES
from core.runs.store import (
    RunStoreError,
    effective_state,
    is_valid_run_id,
    load_run,
    read_json,
    run_path,
    write_json_atomic,
)
from core.runs.store_files import StoreFileError, checked_trials, sweep_problems
from core.runs.sweeps.plan import format_value

RECORD = "sweep.json"
NEVER_STARTED = "the sweep ended before this trial started"


def sweeps_dir_for(runs_dir: Path) -> Path:
    """Sweeps live beside the runs: artifacts/runs -> artifacts/sweeps."""
    return Path(runs_dir).absolute().parent / "sweeps"


def sweep_path(runs_dir: Path, sweep_id: str) -> Path:
    if not is_valid_run_id(sweep_id):
        raise RunStoreError(f"not a sweep id: {str(sweep_id)[:60]!r}")
    return sweeps_dir_for(runs_dir) / sweep_id


def write_record(sweep_dir: Path, record: dict) -> None:
    write_json_atomic(Path(sweep_dir) / RECORD, record)


def read_record(sweep_dir: Path) -> dict:
    """The sweep record, its fields checked; StoreFileError (a ValueError) with a one-line
    reason when it is not one the pages can show."""
    record = read_json(Path(sweep_dir) / RECORD)
    problems = sweep_problems(record)
    if problems:
        raise StoreFileError(problems[0])
    if isinstance(record.get("trials"), list):
        record["trials"] = checked_trials(record["trials"])
    return record


def cancel_requested(sweep_dir: Path) -> bool:
    return (Path(sweep_dir) / CANCEL_FILE).exists()


def trial_outcome(run_dir: Path, over: bool = False) -> dict | None:
    """What a trial's run says about the trial, the one rule for the sweep's process,
    its Ray trial and every reader: None if the run never started (no status.json);
    else its state, best val acc (the summary's, else the best epoch's so far),
    test acc, epochs done and error (None where the run does not say).
    `over`: the trial has ended (its Ray trial returned, or the sweep ended), so a
    run that still reads as queued or running will not finish: it counts as failed."""
    if not (Path(run_dir) / "status.json").exists():
        return None
    info = load_run(Path(run_dir))
    state, error = info.state, info.status.get("error")
    if state in LIVE_STATES and over:
        state, error = "failed", error or "its run had not finished when the trial ended"
    if state not in LIVE_STATES:
        error = error or ("; ".join(info.problems) or None)
    val_acc = info.summary.get("best_val_acc")
    if val_acc is None and info.metrics:
        val_acc = max(row["val_acc"] for row in info.metrics)
    return {"state": state, "val_acc": val_acc, "test_acc": info.summary.get("test_acc"),
            "epochs_done": len(info.metrics), "error": error}


def _refresh_trial(trial: dict, runs_dir: Path, sweep_state_now: str) -> dict:
    trial = dict(trial)
    try:
        outcome = trial_outcome(run_path(runs_dir, trial.get("run_id")))
    except RunStoreError:
        outcome = None
    if outcome is not None:
        trial.update({k: v for k, v in outcome.items() if v is not None})
    elif trial.get("state") in LIVE_STATES and sweep_state_now not in LIVE_STATES:
        # Never started, and the sweep is over: it will not run now.
        trial["state"] = "cancelled" if sweep_state_now == "cancelled" else "failed"
        if trial["state"] == "failed":
            trial["error"] = trial.get("error") or NEVER_STARTED
    return trial


def load_sweep(runs_dir: Path, sweep_id: str) -> dict:
    """The record with its effective state and each trial refreshed from the run store.
    Raises RunStoreError for a bad id, FileNotFoundError/ValueError for a missing or bad record."""
    sweep_dir = sweep_path(runs_dir, sweep_id)
    record = read_record(sweep_dir)
    state = effective_state(record)  # a sweep lives by the same rule as a run
    if state != record.get("state"):
        record["error"] = record.get("error") or "the sweep process ended without finishing (killed?)"
    record["state"] = state
    trials = record.get("trials") if isinstance(record.get("trials"), list) else []
    record["trials"] = [_refresh_trial(t, Path(runs_dir), state) for t in trials if isinstance(t, dict)]
    record["cancel_requested"] = cancel_requested(sweep_dir)
    record["path"] = str(sweep_dir)
    return record


def count_states(trials: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.get("state", "?")] = counts.get(t.get("state", "?"), 0) + 1
    return counts


def list_sweeps(runs_dir: Path) -> list[dict]:
    """Every sweep beside `runs_dir`, newest first: the record with its effective state
    and trial counts (trials not refreshed from their runs: use load_sweep for that)."""
    root = sweeps_dir_for(runs_dir)
    if not root.is_dir():
        return []
    sweeps = []
    for child in root.iterdir():
        if not is_valid_run_id(child.name) or not child.is_dir() or child.is_symlink():
            continue
        try:
            record = read_record(child)
        except FileNotFoundError:
            record = {"id": child.name, "state": "failed", "error": "broken: sweep.json is missing", "trials": []}
        except (OSError, ValueError) as e:
            record = {"id": child.name, "state": "failed", "error": f"broken: {e}", "trials": []}
        record["id"] = child.name
        record["state"] = effective_state(record)
        trials = record.get("trials") if isinstance(record.get("trials"), list) else []
        record["trial_states"] = count_states([t for t in trials if isinstance(t, dict)])
        record["path"] = str(child)
        sweeps.append(record)
    sweeps.sort(key=lambda r: r["id"], reverse=True)
    return sweeps


# ---------------------------------------------------------------- tables and aggregates

def sweep_table(record: dict) -> list[dict]:
    """One row per trial: its point's values (as display text), seed, state, accuracies, run id."""
    rows = []
    for t in record.get("trials") or []:
        point = t.get("point") if isinstance(t, dict) and isinstance(t.get("point"), dict) else {}
        if not isinstance(t, dict):
            continue
        row = {name: format_value(value) for name, value in point.items()}
        row.update(seed=t.get("seed"), state=t.get("state"), val_acc=t.get("val_acc"),
                   test_acc=t.get("test_acc"), run_id=t.get("run_id"), node=node_label(t), error=t.get("error"))
        rows.append(row)
    return rows


def node_label(trial: dict) -> str | None:
    """Where a trial ran: "192.0.2.2 (27293f45)", and how many attempts when more than one."""
    node = trial.get("node")
    if not isinstance(node, str) or not node:
        return None
    ip, _, node_id = node.partition(" ")
    label = f"{ip} ({node_id[:8]})" if node_id else ip
    attempts = trial.get("attempts")
    return f"{label}, attempt {attempts}" if isinstance(attempts, int) and attempts > 1 else label


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _ordered(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def aggregate(rows: list[dict], x: str, y: str | None, metric: str = "test_acc"):
    """Mean and spread of `metric` over two axes of a sweep, for a heatmap.

    Only completed trials count. For each cell (x value, y value) and each seed,
    the trials are first averaged over every other axis; the cell holds the mean
    and the standard deviation (population, ddof=0) of those per-seed values, so
    the spread is the one across seeds. Returns (x_values, y_values, mean, std),
    matrices of shape [len(y_values), len(x_values)], NaN where nothing finished.
    `y=None` gives a single row.
    """
    import numpy as np

    if x == y:
        raise ValueError("choose two different axes")
    done = [r for r in rows if r.get("state", "completed") == "completed" and _number(r.get(metric)) is not None]
    x_values = _ordered(r.get(x) for r in rows)
    y_values = _ordered(r.get(y) for r in rows) if y is not None else [None]
    mean = np.full((len(y_values), len(x_values)), np.nan)
    std = np.full_like(mean, np.nan)
    for j, yv in enumerate(y_values):
        for i, xv in enumerate(x_values):
            cell = [r for r in done if r.get(x) == xv and (y is None or r.get(y) == yv)]
            per_seed: dict = {}
            for r in cell:
                per_seed.setdefault(r.get("seed"), []).append(_number(r[metric]))
            if per_seed:
                seed_means = np.array([np.mean(v) for v in per_seed.values()])
                mean[j, i], std[j, i] = seed_means.mean(), seed_means.std()
    return x_values, y_values, mean, std


def point_summary(rows: list[dict], axes: list[str], metric: str = "test_acc") -> list[dict]:
    """One row per grid point: its values, seeds finished, mean and std (ddof=0) of `metric`."""
    import numpy as np

    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(a) for a in axes), []).append(r)
    summary = []
    for key, members in groups.items():
        values = [_number(r.get(metric)) for r in members if r.get("state") == "completed"]
        values = [v for v in values if v is not None]
        summary.append({**dict(zip(axes, key)), "trials": len(members), "completed": len(values),
                        "mean": float(np.mean(values)) if values else None,
                        "std": float(np.std(values)) if values else None})
    return summary
