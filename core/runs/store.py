"""The run directory contract: ids, status and reading runs back.

`artifacts/runs/<run-id>/` holds config.json, status.json, progress.json,
metrics.csv, model.pt and evaluation.json. Every file is written to a temporary
name and renamed, so a reader never sees half a file and a killed run keeps
what it had. Run ids are made here, never taken from a user as a path.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from core.runs.files import read_json, write_json_atomic  # noqa: F401 (re-exported)
from core.runs.liveness import is_alive
from core.runs.states import LIVE_STATES
from core.runs.store_files import (
    CONFIG_FIELDS,
    MAX_METRIC_ROWS,
    STATUS_FIELDS,
    StoreFileError,
    read_text,
    record_problems,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUNS_DIR = PROJECT_ROOT / "artifacts" / "runs"
DEFAULT_MODEL_DIR = PROJECT_ROOT / "artifacts" / "default-model"

RUNS_DIR_ENV = "DIGIT_LAB_RUNS_DIR"


def runs_dir_setting() -> Path:
    """The store the app reads: $DIGIT_LAB_RUNS_DIR, else artifacts/runs; always absolute
    (a relative setting is taken from the working folder, once, here), so that the app
    and every child it launches, whatever their working folder, mean one store."""
    return Path(os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR).expanduser().absolute()


METRIC_COLUMNS = [
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
    "test_loss", "test_acc", "lr", "epoch_seconds",
]
# Added later (the weights scored on training digits after the epoch; the seconds of the
# epoch's scoring, within epoch_seconds): older runs lack them.
LATER_METRIC_COLUMNS = ["train_eval_loss", "train_eval_acc", "scoring_seconds"]
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,40}$")


class RunStoreError(ValueError):
    pass


def slugify(text: str, limit: int = 24) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return slug or "run"


def new_run_id(name: str = "") -> str:
    """UTC timestamp + short slug of the name + a random suffix (ids never collide)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slugify(name)}-{secrets.token_hex(2)}"


def is_valid_run_id(run_id: str) -> bool:
    return isinstance(run_id, str) and bool(_RUN_ID.fullmatch(run_id))  # fullmatch: `$` allows a final newline


def run_path(runs_dir: Path, run_id: str) -> Path:
    """The folder of a run, refusing anything that is not a plain run id."""
    if not is_valid_run_id(run_id):
        shown = repr(run_id[:60]) if isinstance(run_id, str) else f"a {type(run_id).__name__}"
        raise RunStoreError(f"not a run id: {shown}")
    return Path(runs_dir) / run_id


def metrics_to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS + LATER_METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def read_metrics(path: Path) -> list[dict]:
    """Rows of metrics.csv as floats (epoch as int); raises ValueError on garbage."""
    with io.StringIO(read_text(path), newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not set(METRIC_COLUMNS) <= set(reader.fieldnames):
            raise ValueError("metrics.csv lacks the expected columns")
        rows = []
        for row in reader:
            if len(rows) == MAX_METRIC_ROWS:
                raise ValueError(f"metrics.csv has over {MAX_METRIC_ROWS:,} rows")
            parsed = {k: float(row[k]) for k in METRIC_COLUMNS}
            parsed.update({k: float(row.get(k) or "nan") for k in LATER_METRIC_COLUMNS})
            parsed["epoch"] = int(parsed["epoch"])
            rows.append(parsed)
    return rows


# ---------------------------------------------------------------- status

# Only the run's own process writes status.json, but from two threads: the main one
# and the heartbeat (core.runs.liveness.Heartbeat). Each write reads, merges and replaces
# the file, so the two take turns, or one would drop the other's fields.
_STATUS_LOCK = threading.Lock()


def write_status(run_dir: Path, **fields) -> dict:
    """Merge `fields` into status.json (only the run's own process writes it)."""
    path = Path(run_dir) / "status.json"
    with _STATUS_LOCK:
        status = read_json(path) if path.exists() else {}
        status.update(fields)
        write_json_atomic(path, status)
    return status


def effective_state(status: dict) -> str:
    """The state to show: a run (or sweep) whose process has died is failed, not running
    (the rule, host + pid + start time or a heartbeat, is core.runs.liveness.is_alive)."""
    state = status.get("state", "failed")
    if state not in LIVE_STATES:
        return state
    return state if is_alive(status) else "failed"


# ---------------------------------------------------------------- reading runs

@dataclass
class RunInfo:
    """One folder of the run store as the dashboard lists it."""

    run_id: str
    path: Path
    state: str = "failed"
    config: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return bool(self.problems)

    @property
    def name(self) -> str:
        return self.config.get("name") or self.run_id

    @property
    def has_model(self) -> bool:
        model = self.path / "model.pt"
        return model.is_file() or model.is_symlink()  # a link is refused when read, not hidden


def load_run(path: Path) -> RunInfo:
    """Read a run folder, collecting problems instead of raising: every file through the
    guarded reader, every field the pages read checked for its type. What fails its
    check is dropped (the run is listed as broken, with the reason)."""
    path = Path(path)
    info = RunInfo(run_id=path.name, path=path)
    info.config = _record(path / "config.json", CONFIG_FIELDS, info.problems)
    info.status = _record(path / "status.json", STATUS_FIELDS, info.problems)
    if info.status:
        info.state = effective_state(info.status)
        if info.state != info.status.get("state"):
            error = info.status.get("error") or "the training process ended without finishing (killed?)"
            info.status = {**info.status, "error": error}
    if (path / "metrics.csv").exists() or (path / "metrics.csv").is_symlink():
        try:
            info.metrics = read_metrics(path / "metrics.csv")
        except StoreFileError as e:
            info.problems.append(str(e))
        except (ValueError, KeyError, TypeError, OSError, csv.Error) as e:
            info.problems.append(f"metrics.csv is unreadable ({type(e).__name__})")
    # The summary is copied into status.json when a run ends, so listing never
    # parses the (large) evaluation.json.
    info.summary = info.status.get("summary") or {}
    if info.has_model and info.state not in LIVE_STATES:
        problem = model_problem(path / "model.pt")
        if problem:
            info.problems.append(problem)
    elif info.state == "completed":
        info.problems.append("model.pt is missing")
    return info


def _record(path: Path, fields: dict, problems: list[str]) -> dict:
    """A JSON object of the run folder, checked against `fields`; {} (and the reason in
    `problems`) when it is missing, unreadable or off."""
    try:
        record = read_json(path)
    except FileNotFoundError:
        problems.append(f"{path.name} is missing")
        return {}
    except StoreFileError as e:
        problems.append(str(e))
        return {}
    except (ValueError, OSError) as e:
        problems.append(f"{path.name} is unreadable ({type(e).__name__})")
        return {}
    found = record_problems(record, fields, path.name)
    problems.extend(found)
    return {} if found else record


_model_checks: dict[tuple, str | None] = {}


def model_problem(model_path: Path) -> str | None:
    """Why model.pt cannot be used, or None: a safe load (weights_only, so a file
    carrying code is refused, never run), cached by mtime. Whether the weights fit
    their config is checked when the model is actually used."""
    from core.runs.checkpoint import CheckpointError, read_checkpoint  # torch only when a model is there

    stat = model_path.lstat()
    key = (str(model_path), stat.st_mtime_ns, stat.st_size)
    if key not in _model_checks:
        try:
            read_checkpoint(model_path)
            _model_checks[key] = None
        except CheckpointError as e:
            _model_checks[key] = str(e)
    return _model_checks[key]


def list_runs(runs_dir: Path = DEFAULT_RUNS_DIR) -> list[RunInfo]:
    """Every folder in the store, newest first; hidden and stray files are skipped."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = []
    for child in runs_dir.iterdir():
        if child.name.startswith(".") or not child.is_dir() or child.is_symlink():
            continue
        info = load_run(child)
        if not is_valid_run_id(child.name):
            info.problems.insert(0, "folder name is not a run id")
        runs.append(info)
    runs.sort(key=lambda r: r.run_id, reverse=True)
    return runs


def delete_run(runs_dir: Path, run_id: str) -> None:
    path = run_path(runs_dir, run_id)
    status_path = path / "status.json"
    try:
        live = effective_state(read_json(status_path)) in LIVE_STATES
    except (OSError, ValueError):
        live = False  # no readable status: a broken folder, free to delete
    if live:
        raise RunStoreError("cancel the run before deleting it")
    shutil.rmtree(path)


def rename_run(runs_dir: Path, run_id: str, name: str) -> None:
    """Change the display name; the folder (the id) stays the same."""
    from core.engine.config import check_name  # the same rule as at launch

    path = run_path(runs_dir, run_id) / "config.json"
    check_name(name)
    config = read_json(path)
    if not isinstance(config, dict):  # a damaged config.json: refused, never half-renamed
        raise RunStoreError(f"{run_id}'s config.json is not a JSON object; the run cannot be renamed")
    config["name"] = name
    write_json_atomic(path, config)


