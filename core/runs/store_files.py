"""The one guarded way to read a file from a run or sweep folder.

A folder in the store may be damaged or planted: a file that is a link out of
the store, a FIFO that blocks every reader, a device, gigabytes of JSON, JSON
nested past Python's recursion limit, or fields of the wrong type. Every read
here opens the file without following links and without blocking, takes only
regular files, reads at most its kind's cap, and turns anything off into a
`StoreFileError` with a one-line reason (a ValueError, so the callers that
already refuse garbage refuse this too). The record checks say which fields a
file must hold and of which type; a run that fails them is listed as broken.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from pathlib import Path

from core.runs.messages import one_line
from core.runs.states import STATES

MB = 2**20
# Per kind of file; a run's own files are far smaller (status 2 kB, evaluation.json of a
# poor model about 2.5 MB with every misread digit listed).
CAPS = {
    "config.json": 1 * MB, "status.json": 1 * MB, "progress.json": 2 * MB, "evaluation.json": 32 * MB,
    "metrics.csv": 8 * MB, "sweep.json": 16 * MB, "model.pt": 256 * MB, "manifest.json": 1 * MB,
}
DEFAULT_CAP = 32 * MB
# Epochs are at most 1,000 (the option table) and a learning run's rounds a few per
# correction: 5,000 rows is past any run, and bounds what every listing parses.
MAX_METRIC_ROWS = 5_000
MAX_JSON_DEPTH = 32


class StoreFileError(ValueError):
    """A store file that cannot be read safely; the message is one line."""


def read_bytes(path: Path, cap: int | None = None) -> bytes:
    """A regular file's bytes, at most `cap` (its kind's cap by default); never follows
    a link, never waits on a FIFO. FileNotFoundError when it is absent."""
    path = Path(path)
    cap = cap if cap is not None else CAPS.get(path.name, CAPS["model.pt"] if path.suffix == ".pt" else DEFAULT_CAP)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StoreFileError(f"{path.name} is a link, not a file") from None
        raise StoreFileError(f"{path.name} cannot be opened ({errno.errorcode.get(e.errno, e.errno)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreFileError(f"{path.name} is not a regular file")
        if info.st_size > cap:
            raise StoreFileError(f"{path.name} is {info.st_size / MB:.1f} MB, over its {cap / MB:.0f} MB cap")
        with os.fdopen(fd, "rb", closefd=False) as f:
            # What fstat says is there, plus one byte to see it grow: f.read(cap + 1) would
            # allocate the whole cap up front (256 MB for a 1.5 MB model.pt).
            data = f.read(info.st_size + 1)
        if len(data) > cap:  # grew while read
            raise StoreFileError(f"{path.name} is over its {cap / MB:.0f} MB cap")
        return data
    finally:
        os.close(fd)


def read_json(path: Path, cap: int | None = None):
    """JSON from a store file, within its cap and nested at most MAX_JSON_DEPTH deep."""
    data = read_bytes(path, cap)
    if _depth(data) > MAX_JSON_DEPTH:
        raise StoreFileError(f"{Path(path).name} is nested over {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(data, parse_constant=_constant)
    except (ValueError, RecursionError) as e:
        reason = one_line(e, 80)
        raise StoreFileError(f"{Path(path).name} is unreadable: not valid JSON ({reason})") from None


def read_text(path: Path, cap: int | None = None) -> str:
    try:
        return read_bytes(path, cap).decode()
    except UnicodeDecodeError:
        raise StoreFileError(f"{Path(path).name} is not UTF-8 text") from None


def _constant(name: str) -> float:
    return float(name)  # NaN and Infinity: json.dumps writes them for missing figures


def _depth(data: bytes) -> int:
    """The deepest nesting of brackets outside strings, without parsing (so that a
    hostile file cannot exhaust the parser's stack first)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


# ---------------------------------------------------------------- record checks

def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_count(v, high: float = 1e12) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= high


def _fraction_or_none(v) -> bool:
    return v is None or (_is_number(v) and 0 <= v <= 1)


def _state(v) -> bool:
    return v in STATES


def _text_or_none(v, limit: int = 10_000) -> bool:
    return v is None or (isinstance(v, str) and len(v) <= limit)


# field -> check, for the fields the pages read. Absent fields are fine (older runs);
# present ones must be of their type.
CONFIG_FIELDS = {
    "name": _text_or_none, "model": lambda v: isinstance(v, str) and len(v) <= 40,
    "dataset": lambda v: v in ("mnist", "usps"), "epochs": lambda v: _is_count(v, 100_000),
    "batch_size": lambda v: _is_count(v, 10**7), "parameters": lambda v: _is_count(v, 10**10),
    "seed": lambda v: isinstance(v, int) and not isinstance(v, bool), "sweep_id": _text_or_none,
    "preset": _text_or_none, "lr": lambda v: v is None or _is_number(v),
    "widths": lambda v: v is None or (isinstance(v, list) and all(_is_count(w, 10**6) for w in v)),
    "created_at": _text_or_none, "train_limit": lambda v: v is None or _is_count(v, 10**8),
}
SUMMARY_FIELDS = {
    "test_acc": _fraction_or_none, "other_acc": _fraction_or_none, "best_val_acc": _fraction_or_none,
    "best_epoch": lambda v: v is None or _is_count(v, 100_000), "epochs_done": lambda v: v is None or _is_count(v),
    "dataset": lambda v: v is None or v in ("mnist", "usps"),
    "other_dataset": lambda v: v is None or v in ("mnist", "usps"),
    "handwriting_acc": _fraction_or_none, "parent_handwriting_acc": _fraction_or_none,
    "parent_test_acc": _fraction_or_none,
}
STATUS_FIELDS = {
    "state": _state,
    "error": _text_or_none, "pid": lambda v: v is None or _is_count(v, 2**31),
    "host": _text_or_none, "started_at": _text_or_none, "ended_at": _text_or_none, "heartbeat_at": _text_or_none,
    "summary": lambda v: v is None or (isinstance(v, dict) and not record_problems(v, SUMMARY_FIELDS, "summary")),
    "timings": lambda v: v is None or (isinstance(v, dict) and all(_is_number(t) for t in v.values())),
}
PROGRESS_FIELDS = {
    "epoch": lambda v: _is_count(v, 100_000), "epochs": lambda v: _is_count(v, 100_000),
    "batch": lambda v: _is_count(v), "batches": lambda v: _is_count(v), "elapsed": _is_number,
    "loss": lambda v: v is None or isinstance(v, (int, float)),
    "trace": lambda v: isinstance(v, list) and all(isinstance(p, list) and len(p) == 3 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in p) for p in v),
}


def record_problems(record, fields: dict, what: str) -> list[str]:
    """Why `record` is not the object `fields` describes: one line per bad field."""
    if not isinstance(record, dict):
        return [f"{what} is not a JSON object"]
    return [f"{what}: {name} has an unexpected value" for name, check in fields.items()
            if name in record and not check(record[name])]


def _confusion(v) -> bool:
    return isinstance(v, list) and len(v) == 10 and all(
        isinstance(row, list) and len(row) == 10 and all(_is_count(c) for c in row) for row in v)


_DATASET = lambda v: v in ("mnist", "usps")  # noqa: E731
REPORT_FIELDS = {
    "dataset": _DATASET, "test_acc": _fraction_or_none, "confusion": _confusion,
    "per_class": lambda v: isinstance(v, list), "misclassified": lambda v: isinstance(v, list),
    "scored": lambda v: isinstance(v, dict), "summary": lambda v: isinstance(v, dict) and not record_problems(
        v, SUMMARY_FIELDS, "summary"),
    "other": lambda v: isinstance(v, dict) and (_DATASET(v.get("dataset")) or v.get("dataset") is None) and (
        "error" in v or not record_problems(v, {k: REPORT_FIELDS[k] for k in ("test_acc", "confusion")}, "other")),
}


def report_problems(report) -> list[str]:
    """Why an evaluation.json (or an epoch's report) is not a test report the pages can show."""
    found = record_problems(report, REPORT_FIELDS, "evaluation.json")
    if not found and "confusion" not in report:
        found.append("evaluation.json has no confusion matrix")
    return found


_SCALAR = lambda v: v is None or isinstance(v, (str, int, float, bool))  # noqa: E731
TRIAL_FIELDS = {
    "index": lambda v: _is_count(v, 10**6), "run_id": lambda v: isinstance(v, str) and len(v) <= 200,
    "point": lambda v: isinstance(v, dict) and all(isinstance(k, str) and _SCALAR(x) for k, x in v.items()),
    "seed": lambda v: isinstance(v, int) and not isinstance(v, bool), "state": _state,
    "val_acc": _fraction_or_none, "test_acc": _fraction_or_none, "error": _text_or_none,
    "node": _text_or_none, "attempts": lambda v: _is_count(v, 1000),
}
SWEEP_FIELDS = {
    "state": _state, "error": _text_or_none, "pid": lambda v: v is None or _is_count(v, 2**31),
    "host": _text_or_none, "created_at": _text_or_none, "started_at": _text_or_none, "ended_at": _text_or_none,
    "grid": lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(xs, list) and all(_SCALAR(x) for x in xs) for k, xs in v.items()),
    "seeds": lambda v: isinstance(v, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in v),
    "samples": lambda v: v is None or _is_count(v, 10**6), "base": lambda v: isinstance(v, dict),
    "address": _text_or_none, "max_concurrent": lambda v: v is None or _is_count(v, 10**4),
    "trials": lambda v: isinstance(v, list),  # each trial: TRIAL_FIELDS, in sweep_problems
    "summary": _text_or_none,
}


def sweep_problems(record) -> list[str]:
    """Why a sweep.json is not a sweep record the pages can show (its own fields: a bad
    trial only marks that trial, see checked_trials)."""
    return record_problems(record, SWEEP_FIELDS, "sweep.json")


def checked_trials(trials: list) -> list[dict]:
    """Each recorded trial as it is, or, where it fails its checks, a failed trial that
    says why: one damaged trial is listed broken, the sweep and its other trials stay readable."""
    out = []
    for i, trial in enumerate(trials):
        problems = record_problems(trial, TRIAL_FIELDS, f"trial {i}")
        out.append(trial if not problems else
                   {"index": i, "state": "failed", "run_id": None, "point": {}, "seed": None,
                    "val_acc": None, "test_acc": None, "error": f"broken: {problems[0]}"})
    return out
