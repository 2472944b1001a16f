"""Property-based: a store with a real run folder and a real sweep folder, one file of
them damaged in a way Hypothesis picks (a field of the wrong type, deep nesting,
truncation, a huge file, a link out of the store, a FIFO, garbage, the file gone).
Every page opens under AppTest with no exception and no hang, the damaged run or
sweep is listed as broken where the damage breaks what a listing reads, and every
other run still shows."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import streamlit as st
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as hs

from core.runs.store import list_runs, read_json, write_json_atomic
from core.runs.store_files import CAPS
from core.runs.sweeps.driver import new_record
from core.runs.sweeps.plan import plan
from core.runs.sweeps.record import list_sweeps, sweeps_dir_for, write_record
from tests.app.test_pages import page
from tests.conftest import copy_run

pytestmark = pytest.mark.slow

HEALTHY = "20260101-000000-healthy-0001"
VICTIM = "20260101-000001-victim-0002"
SWEEP = "20260102-000000-sweep-activation-0003"
PAGES = ("home", "runs", "evaluate", "train", "draw", "filters", "sweeps", "handwriting")

_json = hs.recursive(hs.none() | hs.booleans() | hs.integers() | hs.floats(allow_nan=False) | hs.text(max_size=20),
                     lambda inner: hs.lists(inner, max_size=4) | hs.dictionaries(hs.text(max_size=8), inner,
                                                                                 max_size=4), max_leaves=8)
_not_count = hs.one_of(hs.text(max_size=10), hs.floats(), hs.integers(max_value=-1), hs.booleans(), hs.none(),
                       hs.lists(hs.integers(), max_size=3))  # a float is never a count, 3.0 included
_not_text = hs.one_of(hs.integers(), hs.lists(hs.text(max_size=5), min_size=1, max_size=3),
                      hs.dictionaries(hs.text(max_size=5), hs.integers(), min_size=1, max_size=2), hs.booleans())
_not_state = hs.one_of(hs.text(max_size=12).filter(
    lambda s: s not in ("queued", "running", "completed", "failed", "cancelled")), hs.integers(), hs.none())
# Fields a listing reads, with values of a type each can never be.
WRONG = {
    "config.json": {"model": _not_text | hs.none(), "epochs": _not_count, "batch_size": _not_count,
                    "dataset": hs.one_of(hs.text(max_size=8).filter(lambda s: s not in ("mnist", "usps")),
                                         hs.integers())},
    "status.json": {"state": _not_state, "summary": hs.one_of(hs.text(max_size=10), hs.integers(),
                                                              hs.lists(hs.integers(), min_size=1, max_size=3),
                                                              hs.fixed_dictionaries({"test_acc": hs.text()}))},
    "evaluation.json": {"confusion": _json.filter(lambda v: not isinstance(v, list)), "dataset": _not_state},
    "sweep.json": {"grid": hs.one_of(hs.lists(hs.text(max_size=5), max_size=3), hs.text(max_size=5), hs.integers()),
                   "trials": hs.one_of(hs.text(max_size=5), hs.dictionaries(hs.text(max_size=3), hs.integers())),
                   "seeds": hs.one_of(hs.text(max_size=5), hs.lists(hs.text(max_size=3), min_size=1, max_size=3)),
                   "state": _not_state},
}
RUN_FILES = ("config.json", "status.json", "metrics.csv", "model.pt", "evaluation.json")
KINDS = ("wrong-type", "deep", "truncated", "huge", "link", "fifo", "garbage", "missing")
# Damage a listing need not notice: evaluation.json is read by the pages that show a report
# (they must still open), and a missing or cut metrics.csv is a run before its first epoch
# or one being written.
LISTING_MAY_MISS = {("evaluation.json", k) for k in KINDS} | {("metrics.csv", "missing"), ("metrics.csv", "truncated"),
                                                              ("metrics.csv", "garbage"), ("metrics.csv", "wrong-type")}


@hs.composite
def damages(draw, files: tuple[str, ...]):
    """(file, kind, how): one damage to one file."""
    name = draw(hs.sampled_from(files))
    kind = draw(hs.sampled_from(KINDS))
    if kind == "wrong-type" and name in WRONG:
        field = draw(hs.sampled_from(sorted(WRONG[name])))
        how = (field, draw(WRONG[name][field]))
    elif kind == "deep":
        how = draw(hs.integers(min_value=40, max_value=200_000))
    elif kind == "truncated":
        how = draw(hs.floats(min_value=0, max_value=0.99))
    elif kind == "garbage" or kind == "wrong-type":
        how = draw(hs.binary(max_size=4096))
    else:
        how = None
    return name, kind, how


def damage(path, kind: str, how, outside) -> None:
    original = path.read_bytes() if path.is_file() else b""
    if kind == "wrong-type" and isinstance(how, tuple):
        record = read_json(path)
        record[how[0]] = how[1]
        write_json_atomic(path, record)
        return
    path.unlink(missing_ok=True)
    if kind == "deep":
        path.write_bytes(b"[" * how + b"]" * how)
    elif kind == "truncated":  # strictly inside the content: never the whole file again
        body = original.rstrip()
        path.write_bytes(body[:int(len(body) * how)])
    elif kind == "huge":  # sparse: over the cap without writing it
        path.write_bytes(original)
        os.truncate(path, CAPS.get(path.name, CAPS["model.pt"]) + 4096)
    elif kind == "link":  # to a copy of the real file outside the store: plausible, and out of bounds
        target = outside / f"{path.name}-{os.urandom(4).hex()}"
        target.write_bytes(original)
        path.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind in ("garbage", "wrong-type"):
        path.write_bytes(how)


def make_store(root, trained_run):
    """A healthy run, the victim run, and a finished two-trial sweep whose trials are runs."""
    runs = root / "runs"
    runs.mkdir(parents=True)
    copy_run(trained_run, runs, HEALTHY)
    copy_run(trained_run, runs, VICTIM)
    base = {"epochs": 1}
    trials = plan({"activation": ["relu", "tanh"]}, 1, base)
    for i, trial in enumerate(trials):
        trial.run_id = f"20260102-00000{i}-t{i}-{trial.point['activation']}-s0-{i:04x}"
        copy_run(trained_run, runs, trial.run_id)
        config = read_json(runs / trial.run_id / "config.json")
        write_json_atomic(runs / trial.run_id / "config.json", {**config, "sweep_id": SWEEP, **trial.point})
    args = type("Args", (), {"samples": None, "max_concurrent": 2, "runs_dir": str(runs)})()
    record = new_record(SWEEP, trials, {"activation": ["relu", "tanh"]}, args, base, None, None)
    record.update(state="completed", ended_at="2026-01-02T00:05:00+00:00")
    for t in record["trials"]:
        t.update(state="completed", test_acc=0.9, val_acc=0.91)
    sweep_dir = sweeps_dir_for(runs) / SWEEP
    sweep_dir.mkdir(parents=True)
    write_record(sweep_dir, record)
    return runs, sweep_dir


def open_every_page(victim_query: dict) -> dict:
    """Each page once (and the victim's own view); the AppTests by name."""
    st.cache_data.clear()
    st.cache_resource.clear()
    opened = {}
    for name in (*PAGES, "victim"):
        at = page(name if name != "victim" else "evaluate" if "run" in victim_query else "sweeps")
        if name == "victim":
            for key, value in victim_query.items():
                at.query_params[key] = value
        at.run()  # a hang fails here: AppTest's timeout
        assert not at.exception, (name, [e.message for e in at.exception])
        assert "Traceback" not in json.dumps([str(e.value) for e in at.get("markdown")])
        opened[name] = at
    return opened


SETTINGS = settings(max_examples=int(os.environ.get("DIGIT_LAB_PROPERTY_EXAMPLES", "15")), deadline=None,
                    derandomize=True, phases=(Phase.explicit, Phase.generate),  # no shrinking: minutes per page set
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                             HealthCheck.too_slow])


@SETTINGS
@given(hurt=damages(RUN_FILES))
def test_a_damaged_run_is_listed_as_broken_and_every_page_opens(hurt, trained_run, tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("damaged-run")
    runs, _ = make_store(root, trained_run)
    monkeypatch.setenv("DIGIT_LAB_RUNS_DIR", str(runs))
    name, kind, how = hurt
    damage(runs / VICTIM / name, kind, how, root)

    listed = {r.run_id: r for r in list_runs(runs)}
    assert set(listed) >= {HEALTHY, VICTIM}  # the damaged run is listed, not dropped
    assert not listed[HEALTHY].broken
    if (name, kind) not in LISTING_MAY_MISS:
        assert listed[VICTIM].broken, (name, kind, listed[VICTIM].problems)
    assert all("\n" not in p and len(p) < 200 for p in listed[VICTIM].problems)

    opened = open_every_page({"run": VICTIM})
    table = opened["runs"].dataframe[0].value
    rows = dict(zip(table["run id"], table["problems"]))
    assert rows[HEALTHY] == "" and VICTIM in rows  # every other run still shows
    if listed[VICTIM].broken:
        assert rows[VICTIM], "the Runs page gives the reason"
    shutil.rmtree(root, ignore_errors=True)


@SETTINGS
@given(hurt=damages(("sweep.json",)))
def test_a_damaged_sweep_is_listed_as_broken_and_every_page_opens(hurt, trained_run, tmp_path_factory,
                                                                   monkeypatch):
    root = tmp_path_factory.mktemp("damaged-sweep")
    runs, sweep_dir = make_store(root, trained_run)
    monkeypatch.setenv("DIGIT_LAB_RUNS_DIR", str(runs))
    name, kind, how = hurt
    damage(sweep_dir / name, kind, how, root)

    sweeps = {s["id"]: s for s in list_sweeps(runs)}
    assert str(sweeps[SWEEP]["error"]).startswith("broken"), (kind, sweeps[SWEEP].get("error"))
    opened = open_every_page({"sweep": SWEEP})
    labels = [o for box in opened["sweeps"].selectbox if box.label == "Sweep" for o in box.options]
    assert any(SWEEP in label and "broken" in label for label in labels), labels
    assert any("Cannot read sweep" in str(e.value) for e in opened["victim"].error)
    assert len(list_runs(runs)) == 4  # its trials' runs still show
    shutil.rmtree(root, ignore_errors=True)
