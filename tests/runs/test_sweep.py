"""Sweeps: planning and validation (no Ray), a real 2x2 sweep on local Ray, cancelling."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs.launcher import cancel_sweep, launch_sweep
from core.runs.liveness import is_alive
from core.runs.store import load_run, read_json
from core.runs.sweeps.plan import SweepError, parse_grid_args, plan, typed_grid
from core.runs.sweeps.record import aggregate, list_sweeps, load_sweep, sweep_table, sweeps_dir_for
from core.sweep import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TINY = ["--epochs", "1", "--train-limit", "5000", "--widths", "8,16", "--hidden", "32", "--val-size", "1000",
        "--augment", "0", "--batch-size", "128"]


def plan_sweep(grid, seeds=1, base=None, samples=None):
    """The configs a sweep would train (validation included; raises SweepError)."""
    return [t.config for t in plan(grid, seeds, base, samples)]


def sweep_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.sweep", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------- planning, no Ray

def test_importing_core_sweep_imports_neither_ray_nor_torch():
    code = "import sys, core.sweep; bad = [m for m in ('ray', 'torch') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("grid, option", [
    ("nosuch=1", "nosuch"),
    ("dropout=1.5", "dropout"),
    ("activation=swish", "activation"),
    ("epochs=two", "epochs"),
    ("seed=1,2", "seed"),
    ("batchnorm=maybe", "batchnorm"),
    ("widths=8/x", "widths"),
    ("momentum=0.5,0.9", "momentum"),  # the base optimizer is adamw: momentum would be ignored
])
def test_bad_grid_fails_before_anything_starts(tmp_path, capsys, grid, option):
    store = tmp_path / "store"
    with pytest.raises(SystemExit) as exit_info:
        main(["--grid", "activation=relu,tanh", "--grid", grid, "--runs-dir", str(store / "runs"), *TINY])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and option in err, err
    assert not store.exists()  # no runs dir, no sweeps dir


def test_bad_grid_from_the_command_line_is_one_line_and_exit_2(tmp_path):
    out = sweep_cli("--grid", "dropout=0,1.5", "--runs-dir", str(tmp_path / "runs"), timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "dropout" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_unreachable_address_fails_fast_with_one_line(tmp_path):
    started = time.monotonic()
    out = sweep_cli("--grid", "activation=relu,tanh", "--address", "127.0.0.1:1", "--runs-dir",
                    str(tmp_path / "runs"), *TINY, timeout=60)
    elapsed = time.monotonic() - started
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "127.0.0.1:1" in out.stderr, out.stderr
    assert elapsed < 15, f"took {elapsed:.1f}s"
    assert not (tmp_path / "sweeps").exists()


def test_grid_values_are_typed_like_the_options():
    grid = parse_grid_args(["widths=16/32,32/64", "batchnorm=on,false", "lr=1e-3,0.01", "train-limit=500"])
    assert typed_grid(grid) == {"widths": [[16, 32], [32, 64]], "batchnorm": [True, False],
                                "lr": [0.001, 0.01], "train_limit": [500]}
    assert typed_grid(parse_grid_args(["widths=16,32;8"]))["widths"] == [[16, 32], [8]]


def test_plan_with_samples_gives_k_distinct_points_times_seeds():
    grid = {"activation": ["relu", "tanh", "gelu"], "pooling": ["max", "avg", "lp"], "dropout": ["0", "0.25"]}
    configs = plan_sweep(grid, seeds=2, base={"epochs": 1}, samples=5)
    assert len(configs) == 10
    points = {(c.activation, c.pooling, c.dropout) for c in configs}
    assert len(points) == 5
    for p in points:
        assert p[0] in grid["activation"] and p[1] in grid["pooling"] and p[2] in (0.0, 0.25)
        assert sorted(c.seed for c in configs if (c.activation, c.pooling, c.dropout) == p) == [0, 1]
    assert all(c.epochs == 1 for c in configs)
    again = plan_sweep(grid, seeds=2, base={"epochs": 1}, samples=5)
    assert [(c.activation, c.pooling, c.dropout, c.seed) for c in again] == \
        [(c.activation, c.pooling, c.dropout, c.seed) for c in configs]  # reproducible
    assert len(plan_sweep(grid, seeds=1, base={}, samples=100)) == 18  # K >= grid size: the whole grid


def test_plan_validates_every_point_and_the_base():
    with pytest.raises(SweepError, match="dropout"):
        plan_sweep({"dropout": ["0", "1.5"]}, seeds=1, base={}, samples=1)
    with pytest.raises(SweepError, match="epochs"):
        plan_sweep({"dropout": ["0"]}, seeds=1, base={"epochs": 0}, samples=None)
    # A combination can be bad even when each value is fine on its own.
    with pytest.raises(SweepError, match="widths"):
        plan_sweep({"padding": ["same", "valid"], "kernel_size": ["9"], "widths": ["8/8/8/8"]}, seeds=1, base={},
                   samples=None)
    assert [c.seed for c in plan_sweep({"lr": ["0.01"]}, seeds=3, base={"seed": 7}, samples=None)] == [7, 8, 9]


def test_aggregate_gives_mean_and_spread_across_seeds():
    rows = []
    # test_acc = base(x, y) + 0.01 * z + 0.02 * seed, with x, y, z in {a, b}, seeds 0 and 1
    base = {("a", "a"): 0.90, ("b", "a"): 0.80, ("a", "b"): 0.70, ("b", "b"): 0.60}
    for (x, y), acc in base.items():
        for zi, z in enumerate(["p", "q"]):
            for seed in (0, 1):
                rows.append({"x": x, "y": y, "z": z, "seed": seed, "state": "completed",
                             "test_acc": acc + 0.01 * zi + 0.02 * seed})
    rows.append({"x": "a", "y": "a", "z": "p", "seed": 2, "state": "failed", "test_acc": None})
    rows.append({"x": "c", "y": "a", "z": "p", "seed": 0, "state": "running", "test_acc": None})
    xs, ys, mean, std = aggregate(rows, "x", "y")
    assert xs == ["a", "b", "c"] and ys == ["a", "b"]
    # per seed, z averages to +0.005; across seeds 0/1 the mean is +0.01 and the std (ddof=0) 0.01
    for (x, y), acc in base.items():
        j, i = ys.index(y), xs.index(x)
        assert mean[j, i] == pytest.approx(acc + 0.015)
        assert std[j, i] == pytest.approx(0.01)
    assert math.isnan(mean[0, 2]) and math.isnan(mean[1, 2])  # nothing finished for x=c
    xs, ys, mean, std = aggregate(rows, "z", None)
    assert xs == ["p", "q"] and ys == [None]
    assert mean[0, 0] == pytest.approx(0.75 + 0.01) and mean[0, 1] == pytest.approx(0.76 + 0.01)
    with pytest.raises(ValueError):
        aggregate(rows, "x", "x")


# ---------------------------------------------------------------- on Ray

def test_two_by_two_sweep_on_local_ray(mnist_dir, tmp_path):
    runs = tmp_path / "runs"
    started = time.monotonic()
    out = sweep_cli("--grid", "activation=relu,tanh", "--grid", "pooling=max,avg", "--runs-dir", str(runs),
                    "--data-dir", str(mnist_dir), *TINY, timeout=600)
    elapsed = time.monotonic() - started
    print(f"2x2 sweep on local Ray took {elapsed:.1f}s")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    sweep_dir = Path(lines[0])
    assert sweep_dir.parent == sweeps_dir_for(runs) == tmp_path / "sweeps"
    assert sum(line.startswith("[") and "completed" in line for line in lines) == 4
    assert "mean test acc" in out.stdout and len(out.stderr.strip().splitlines()) <= 2, out.stderr

    record = read_json(sweep_dir / "sweep.json")
    assert record["state"] == "completed" and record["ended_at"]
    assert record["grid"] == {"activation": ["relu", "tanh"], "pooling": ["max", "avg"]}
    assert len(record["trials"]) == 4 and all(t["state"] == "completed" for t in record["trials"])
    assert {(t["point"]["activation"], t["point"]["pooling"]) for t in record["trials"]} == \
        {("relu", "max"), ("relu", "avg"), ("tanh", "max"), ("tanh", "avg")}
    for trial in record["trials"]:
        run_dir = runs / trial["run_id"]
        info = load_run(run_dir)
        assert info.state == "completed" and not info.problems
        assert (run_dir / "evaluation.json").exists() and (run_dir / "model.pt").exists()
        assert info.config["sweep_id"] == record["id"]
        assert info.config["activation"] == trial["point"]["activation"]
        assert trial["test_acc"] == info.summary["test_acc"] > 0.5
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == \
        sorted(t["run_id"] for t in record["trials"])

    loaded = load_sweep(runs, record["id"])
    assert loaded["state"] == "completed"
    assert [s["id"] for s in list_sweeps(runs)] == [record["id"]]
    rows = sweep_table(loaded)
    assert len(rows) == 4 and {r["state"] for r in rows} == {"completed"}
    xs, ys, mean, _ = aggregate(rows, "activation", "pooling")
    assert xs == ["relu", "tanh"] and ys == ["max", "avg"] and not any(math.isnan(v) for v in mean.flat)


@pytest.mark.slow
def test_cancelling_a_sweep_cancels_its_runs(mnist_dir, tmp_path):
    runs = tmp_path / "runs"
    base = {"epochs": 20, "train_limit": 20000, "widths": [16, 32], "val_size": 1000, "augment": 0.0,
            "data_dir": str(mnist_dir)}
    sweep_id = launch_sweep({"activation": ["relu", "tanh"]}, runs, seeds=1, base=base, max_concurrent=1)
    try:
        deadline = time.monotonic() + 180
        running = None
        while running is None:
            assert time.monotonic() < deadline, (sweeps_dir_for(runs) / sweep_id / "sweep.log").read_text()
            record = load_sweep(runs, sweep_id)
            assert record["state"] in ("queued", "running"), record
            running = next((t for t in record["trials"] if t["state"] == "running"
                            and (runs / t["run_id"] / "progress.json").exists()), None)
            time.sleep(0.5)
        assert cancel_sweep(runs, sweep_id)
        deadline = time.monotonic() + 90
        while load_sweep(runs, sweep_id)["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the sweep did not end within 90 s of its cancel"
            time.sleep(0.5)
    finally:
        cancel_sweep(runs, sweep_id)  # never leave a sweep running
    record = load_sweep(runs, sweep_id)
    assert record["state"] == "cancelled", record
    states = {t["run_id"]: t["state"] for t in record["trials"]}
    assert states[running["run_id"]] in ("cancelled", "failed")
    assert set(states.values()) <= {"cancelled", "failed"}
    for run_id in states:
        if (runs / run_id).exists():
            info = load_run(runs / run_id)
            assert info.state in ("cancelled", "failed") and not info.problems, info.problems
            assert read_json(runs / run_id / "config.json")["sweep_id"] == sweep_id
    log = (sweeps_dir_for(runs) / sweep_id / "sweep.log").read_text()
    assert "Traceback" not in log, log
    deadline = time.monotonic() + 60  # the sweep process (and its Ray) is gone soon after
    while is_alive(record):
        assert time.monotonic() < deadline, "the sweep process outlived its record by a minute"
        time.sleep(0.5)


def test_tune_records_hold_each_trials_real_hyperparameters(mnist_dir, tmp_path):
    """Tune's own files (params.json, result.json, its TensorBoard HParams) say what each trial
    trained and scored, without the sweep record to map an index to a point."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    from core.runs.store import read_metrics

    runs = tmp_path / "runs"
    out = sweep_cli("--grid", "activation=relu,tanh", "--runs-dir", str(runs), "--data-dir", str(mnist_dir),
                    "--epochs", "1", "--train-limit", "2000", "--widths", "8,16", "--hidden", "32", "--val-size",
                    "500", "--augment", "0", "--batch-size", "128", "--lr", "0.004", timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    sweep_dir = Path(out.stdout.splitlines()[0])
    record = read_json(sweep_dir / "sweep.json")
    trial_dirs = sorted(p.parent for p in (sweep_dir / "ray" / "tune").glob("*/params.json"))
    assert len(trial_dirs) == 2
    for trial_dir in trial_dirs:
        params = read_json(trial_dir / "params.json")
        trial = record["trials"][params["index"]]
        run_dir = runs / trial["run_id"]
        assert params["activation"] == trial["point"]["activation"]
        assert params["lr"] == 0.004 and params["widths"] == [8, 16] and params["seed"] == trial["seed"] == 0
        assert "name" not in params and "sweep_id" not in params  # bookkeeping, not hyperparameters
        config = read_json(run_dir / "config.json")
        assert {k: config[k] for k in params if k != "index"} == {k: v for k, v in params.items() if k != "index"}

        results = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
        assert all(r["config"] == params for r in results)
        epoch, final = results[0], results[-1]
        assert epoch["epoch"] == 1 and epoch["val_acc"] == pytest.approx(read_metrics(run_dir / "metrics.csv")[0]
                                                                          ["val_acc"])
        assert final["sweep_final"] and final["state"] == "completed"
        assert final["test_acc"] == trial["test_acc"] == read_json(run_dir / "evaluation.json")["summary"]["test_acc"]

        events = EventAccumulator(str(trial_dir))  # Tune's TensorBoard output
        events.Reload()
        start = metadata.parse_session_start_info_plugin_data(
            events.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG])
        assert start.hparams["activation"].string_value == trial["point"]["activation"]
        assert "ray/tune/val_acc" in events.Tags()["scalars"]
        assert list(run_dir.glob("events.out.tfevents.*"))  # and the run's own, beside its other files


def test_a_huge_sample_count_is_refused_before_anything_is_drawn():
    started = time.perf_counter()
    with pytest.raises(SweepError, match="samples"):
        plan_sweep({"dropout": ["0", "0.25", "0.5"], "lr": ["0.001", "0.01"]}, seeds=1, base={}, samples=1_000_000)
    assert time.perf_counter() - started < 1.0


def _trials(*states_and_errors):
    return [{"index": i, "state": s, "error": e} for i, (s, e) in enumerate(states_and_errors)]


def test_a_sweep_where_no_trial_completed_is_failed_with_the_first_reason():
    from core.runs.sweeps.driver import sweep_outcome

    state, error, summary = sweep_outcome(_trials(("failed", "The actor never ran"), ("failed", "other")), False, None)
    assert state == "failed" and error == "no trial completed: The actor never ran"
    assert summary == "0 of 2 trials completed, 2 failed: The actor never ran"


def test_a_sweep_where_some_failed_is_completed_and_says_how_many():
    from core.runs.sweeps.driver import sweep_outcome

    trials = _trials(*[("completed", None)] * 7, ("failed", "ValueError: lr must be > 0"))
    state, error, summary = sweep_outcome(trials, False, None)
    assert (state, error) == ("completed", None)
    assert summary == "7 of 8 trials completed, 1 failed: ValueError: lr must be > 0"
    assert sweep_outcome(_trials(("completed", None), ("cancelled", None)), True, None)[0] == "cancelled"
    assert sweep_outcome(_trials(("completed", None)), False, "Ray died")[:2] == ("failed", "Ray died")


def test_a_wrong_address_and_a_ray_version_mismatch_each_end_in_one_line(tmp_path, monkeypatch):
    import time

    import ray

    from core.runs.sweeps.driver import check_address
    from core.runs.sweeps.plan import SweepError
    from core.runs.sweeps.ray_tune import ray_init
    from tests.app.conftest import free_port

    started = time.monotonic()
    with pytest.raises(SweepError, match="cannot reach a Ray cluster at 127.0.0.1:"):
        check_address(f"127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(SweepError, match="is not HOST:PORT"):
        check_address("head-node")
    assert time.monotonic() - started < 5

    def mismatched(**kwargs):  # what ray.init raises when the cluster's Ray is another version
        raise RuntimeError("Version mismatch: The cluster was started with:\n    Ray: 2.49.0\n    Python: 3.11.9\n"
                           "This process on node 10.0.0.2 was started with:\n    Ray: 2.60.0\n    Python: 3.11.9")

    monkeypatch.setattr(ray, "init", mismatched)
    # A driver hands fd 2 to Ray's log for good; not pytest's own.
    monkeypatch.setattr("core.runs.sweeps.ray_tune.native_stderr_to", lambda path: None)
    with pytest.raises(SweepError) as raised:
        ray_init("10.0.0.1:6379", tmp_path / "ray.log")
    assert "Ray version mismatch with the cluster at 10.0.0.1:6379" in str(raised.value)
    assert "\n" not in str(raised.value)
