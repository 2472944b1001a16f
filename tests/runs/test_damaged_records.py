"""Damaged records refuse only what they must, with the store's own error: a rename of a
run whose config.json is not an object, a run id that is not a string, one bad trial in
a sweep (listed broken, the sweep and its other trials readable), a metrics.csv longer
than any run writes."""

from __future__ import annotations

import json

import pytest

from core.runs.store import RunStoreError, load_run, rename_run, run_path
from core.runs.store_files import MAX_METRIC_ROWS
from core.runs.sweeps.record import load_sweep, sweeps_dir_for
from tests.conftest import copy_run


@pytest.mark.parametrize("config", [[], "a string", None, 7])
def test_renaming_a_run_with_a_damaged_config_is_refused_not_a_traceback(store, trained_run, config):
    run_dir = copy_run(trained_run, store, "20260101-000000-damaged-0001")
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunStoreError, match="not a JSON object"):
        rename_run(store, run_dir.name, "new name")
    assert json.loads((run_dir / "config.json").read_text()) == config  # untouched


@pytest.mark.parametrize("run_id", [None, 12, 3.5, ["x"], {"a": 1}])
def test_a_run_id_that_is_not_a_string_is_the_stores_own_error(tmp_path, run_id):
    with pytest.raises(RunStoreError, match="not a run id"):
        run_path(tmp_path, run_id)


def test_one_bad_trial_is_listed_broken_and_the_sweep_stays_readable(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    sweep_dir = sweeps_dir_for(runs) / "20260101-000000-sweep-0001"
    sweep_dir.mkdir(parents=True)
    good = {"index": 0, "run_id": "20260101-000000-a-0001", "point": {"activation": "relu"}, "seed": 0,
            "state": "queued"}
    bad = {"index": 1, "run_id": None, "point": {"activation": "tanh"}, "seed": "zero", "state": "queued"}
    (sweep_dir / "sweep.json").write_text(json.dumps({
        "state": "completed", "grid": {"activation": ["relu", "tanh"]}, "seeds": [0], "trials": [good, bad]}))
    record = load_sweep(runs, sweep_dir.name)
    assert record["trials"][0]["point"] == {"activation": "relu"}
    broken = record["trials"][1]
    assert broken["state"] == "failed" and broken["error"].startswith("broken: trial 1"), broken


def test_a_listing_reads_no_more_metric_rows_than_any_run_writes(store, trained_run):
    run_dir = copy_run(trained_run, store, "20260101-000000-long-0001")
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    columns = header.count(",") + 1
    row = ",".join(["1"] * columns)
    (run_dir / "metrics.csv").write_text("\n".join([header] + [row] * (MAX_METRIC_ROWS + 1)) + "\n")
    info = load_run(run_dir)
    assert info.broken and any("metrics.csv" in p for p in info.problems), info.problems
