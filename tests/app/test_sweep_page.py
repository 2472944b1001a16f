"""The Sweeps page under Streamlit's AppTest, on a finished sweep built by hand
(copies of the `trained_run` fixture with made-up accuracies): no Ray here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.runs.liveness import identity
from core.runs.store import read_json, write_json_atomic, write_status
from core.runs.sweeps.record import sweeps_dir_for, write_record
from tests.conftest import copy_run

ROOT = Path(__file__).resolve().parents[2]
SWEEP_ID = "20260102-000000-sweep-activation-pooling-0001"
# test accuracy of each (activation, pooling, seed)
ACCS = {
    ("relu", "max", 0): 0.91, ("relu", "max", 1): 0.93,
    ("relu", "avg", 0): 0.88, ("relu", "avg", 1): 0.86,
    ("tanh", "max", 0): 0.80, ("tanh", "max", 1): 0.84,
    ("tanh", "avg", 0): 0.75, ("tanh", "avg", 1): 0.75,
}


def _page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "sweeps.py"), default_timeout=60)


@pytest.fixture
def sweep_store(store, trained_run):
    """A completed 2x2 sweep with 2 seeds, plus one failed trial that must not count."""
    trials = []
    for i, ((activation, pooling, seed), acc) in enumerate(ACCS.items()):
        run_id = f"20260102-000000-t{i}-{activation}-{pooling}-s{seed}-{i:04x}"
        run_dir = copy_run(trained_run, store, run_id)
        evaluation = read_json(run_dir / "evaluation.json")
        evaluation["test_acc"] = evaluation["summary"]["test_acc"] = acc
        evaluation["summary"]["best_val_acc"] = acc + 0.01
        write_json_atomic(run_dir / "evaluation.json", evaluation)
        write_status(run_dir, summary=evaluation["summary"])  # listings read the summary from status.json
        config = read_json(run_dir / "config.json")
        write_json_atomic(run_dir / "config.json",
                          {**config, "activation": activation, "pooling": pooling, "seed": seed, "sweep_id": SWEEP_ID})
        trials.append({"index": i, "run_id": run_id, "point": {"activation": activation, "pooling": pooling},
                       "seed": seed, "state": "completed", "test_acc": acc, "val_acc": acc + 0.01, "error": None})
    failed_id = "20260102-000000-t8-relu-max-s2-0008"
    failed = copy_run(trained_run, store, failed_id)
    (failed / "evaluation.json").unlink()
    write_status(failed, state="failed", error="RuntimeError: boom (test)", summary=None)
    trials.append({"index": 8, "run_id": failed_id, "point": {"activation": "relu", "pooling": "max"}, "seed": 2,
                   "state": "failed", "test_acc": None, "val_acc": None, "error": "RuntimeError: boom (test)"})
    sweep_dir = sweeps_dir_for(store) / SWEEP_ID
    sweep_dir.mkdir(parents=True)
    write_record(sweep_dir, {
        "id": SWEEP_ID, "created_at": "2026-01-02T00:00:00+00:00", "ended_at": "2026-01-02T00:05:00+00:00",
        "state": "completed", "pid": 1, "error": None,
        "grid": {"activation": ["relu", "tanh"], "pooling": ["max", "avg"]}, "seeds": [0, 1, 2],
        "base": {"epochs": 1}, "address": "local", "max_concurrent": 2, "trials": trials,
    })
    return store


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_finished_sweep_shows_heatmap_of_mean_test_accuracy(sweep_store):
    at = _page()
    at.query_params["sweep"] = SWEEP_ID
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert len(table) == 9 and sorted(table["state"].unique()) == ["completed", "failed"]
    assert set(table["open"]) == {f"./evaluate?run={r}" for r in table["run_id"]}

    figures = _figures(at)
    heatmap = next(f["data"][0] for f in figures if f["data"][0]["type"] == "heatmap")
    assert heatmap["x"] == ["relu", "tanh"] and heatmap["y"] == ["max", "avg"]
    expected = [[(ACCS[(a, p, 0)] + ACCS[(a, p, 1)]) / 2 for a in ("relu", "tanh")] for p in ("max", "avg")]
    np.testing.assert_allclose(heatmap["z"], expected)
    assert heatmap["text"][0][0] == "92.00% ± 1.00%"  # relu/max: 0.91 and 0.93; the failed seed 2 ignored

    parcoords = next(f["data"][0] for f in figures if f["data"][0]["type"] == "parcoords")
    dims = {d["label"]: d for d in parcoords["dimensions"]}
    assert dims["activation"]["ticktext"] == ["relu", "tanh"] and len(dims["test acc"]["values"]) == 8

    at.selectbox(key="sw_x").set_value("pooling").run()  # swap the axes
    heatmap = next(f["data"][0] for f in _figures(at) if f["data"][0]["type"] == "heatmap")
    assert heatmap["x"] == ["max", "avg"]
    np.testing.assert_allclose(heatmap["z"], np.transpose(expected))


def test_empty_store_invites_a_first_sweep(store):
    at = _page()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("No sweeps yet" in i.value for i in at.info)


def test_bad_grid_is_an_error_and_starts_nothing(store):
    at = _page()
    at.run()
    at.text_input(key="sw_values_activation").input("relu,swish")
    next(b for b in at.button if "Launch" in b.label).click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("swish" in e.value for e in at.error), [e.value for e in at.error]
    assert not sweeps_dir_for(store).exists()


def test_unknown_or_broken_sweep_is_an_error_not_a_traceback(sweep_store):
    (sweeps_dir_for(sweep_store) / "20260103-000000-sweep-broken-0002").mkdir()
    (sweeps_dir_for(sweep_store) / "20260103-000000-sweep-broken-0002" / "sweep.json").write_text("{not json")
    at = _page()
    at.query_params["sweep"] = "20260103-000000-sweep-broken-0002"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.error
    at = _page()
    at.query_params["sweep"] = "../../etc"
    at.run()
    assert not at.exception and any("not in" in w.value for w in at.warning)


def test_running_sweep_shows_live_table_and_cancels(sweep_store):
    import subprocess
    import sys

    # Stands in for the sweep process: only a command line naming a Digit Lab entry point
    # is ever signalled (a plain `sleep` is not: tests/runs/test_liveness.py).
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "core.sweep"])
    try:
        sweep_dir = sweeps_dir_for(sweep_store) / SWEEP_ID
        record = read_json(sweep_dir / "sweep.json")
        record.update(state="running", **identity(sleeper.pid), ended_at=None)
        record["trials"].append({"index": 9, "run_id": "20260102-000000-t9-tanh-avg-s2-0009",
                                 "point": {"activation": "tanh", "pooling": "avg"}, "seed": 2, "state": "queued",
                                 "test_acc": None, "val_acc": None, "error": None})
        write_record(sweep_dir, record)
        at = _page()
        at.query_params["sweep"] = SWEEP_ID
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert len(at.dataframe[0].value) == 10
        cancel = next(b for b in at.button if "Cancel" in b.label)
        cancel.click()
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert (sweep_dir / "cancel").exists()
        assert sleeper.wait(timeout=10) == -15  # SIGTERM
    finally:
        sleeper.kill()
