"""`python -m core.sweep`: a hyper-parameter sweep on Ray Tune.

    python -m core.sweep --grid activation=relu,tanh --grid pooling=max,avg --seeds 2 --epochs 2

A grid (or `--samples K` random points of it) times N seeds; every other engine
option is the base of every trial. Each trial is an ordinary run in the run store
(`core.train.run`), tagged with the sweep id; the sweep keeps a small record in
`<runs_dir>/../sweeps/<sweep-id>/sweep.json` (see core.runs.sweep_record).

Ray is imported only once a sweep really starts, so `import core.sweep` is cheap
and a bad grid is refused (one line, exit 2) before anything starts. By default
a local Ray is started with one trial per CPU; `--address` or $RAY_ADDRESS
connects to a cluster instead (the run store must then be on a filesystem the
workers share). SIGTERM/SIGINT cancels: the `cancel` flag in the sweep folder
makes running trials stop after their batch (their runs end cancelled) and the
queued ones end at once. Exit code: 0 all trials completed, 1 cancelled or some
trials failed, 2 bad options or the sweep could not run.

The dashboard's API: plan_sweep, launch_sweep, list_sweeps, load_sweep,
cancel_sweep, sweep_table, aggregate.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from core.runs.command_line import OneLineParser, add_train_options, fail, options_to_args
from core.runs.liveness import Heartbeat, cancel_watch, identity, utc_now_iso
from core.runs.store import (DEFAULT_RUNS_DIR, PROJECT_ROOT, RunStoreError, load_run, new_run_id, now_iso, run_path)
from core.runs.sweep_plan import (SweepError, Trial, base_options, format_value, grid_to_args,
                             parse_grid_args, plan, plan_sweep, point_label, sweepable_options, typed_grid)
from core.runs.sweep_record import (CANCEL_FLAG, aggregate, cancel_requested, cancel_sweep, list_sweeps, load_sweep,
                               point_summary, read_record, sweep_path, sweep_table, sweeps_dir_for, write_record)

__all__ = ["plan_sweep", "launch_sweep", "list_sweeps", "load_sweep", "cancel_sweep", "sweep_table", "aggregate",
           "sweeps_dir_for", "sweepable_options", "SweepError", "main"]

CONNECT_TIMEOUT_S = 3.0
PROG = "python -m core.sweep"


# ---------------------------------------------------------------- command line

def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Train a grid of runs (times seeds) on Ray Tune; "
                      "every other option is the base of every trial.")
    s = p.add_argument_group("sweep")
    s.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2,...",
                   help="an option and its values (repeat for more axes); widths as 16/32,32/64")
    s.add_argument("--seeds", type=int, default=1, help="seeds per grid point: --seed, --seed+1, ... (default 1)")
    s.add_argument("--samples", type=int, help="train K random points of the grid instead of all of it")
    s.add_argument("--max-concurrent", type=int, help="trials at once (default: one per CPU)")
    s.add_argument("--address", help="a Ray cluster to use (else $RAY_ADDRESS, else a new local Ray)")
    s.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), help="where run directories go")
    s.add_argument("--sweep-id", help=argparse.SUPPRESS)  # a folder reserved by launch_sweep
    add_train_options(p)
    return p


def check_address(address: str) -> None:
    """A quick TCP connect, so that a wrong address fails in seconds, not after Ray's minute."""
    if address in ("auto", "local"):
        return
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        raise SweepError("--address", f"{address!r} is not HOST:PORT")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise SweepError("--address", f"cannot reach a Ray cluster at {address} ({e.strerror or e})") from None


def _trial_run_id(trial: Trial) -> str:
    values = " ".join(format_value(v) for v in trial.point.values())
    return new_run_id(f"t{trial.index} {values} s{trial.seed}")


def new_record(sweep_id: str, trials: list[Trial], grid: dict, args: argparse.Namespace, base: dict,
               address: str | None, previous: dict | None) -> dict:
    return {
        "id": sweep_id,
        "created_at": (previous or {}).get("created_at") or now_iso(),
        "launched_at": (previous or {}).get("launched_at"),
        "started_at": now_iso(),
        "ended_at": None,
        "state": "running",
        **identity(),  # host, pid, pid_started, heartbeat_at: who runs the sweep (core.runs.liveness)
        "error": None,
        "grid": grid,
        "seeds": sorted({t.seed for t in trials}),
        "samples": args.samples,
        "base": base,
        "address": address or "local",
        "max_concurrent": args.max_concurrent,
        "runs_dir": str(Path(args.runs_dir).absolute()),
        "trials": [{"index": t.index, "run_id": t.run_id, "point": t.point, "seed": t.seed, "state": "queued",
                    "val_acc": None, "test_acc": None, "error": None} for t in trials],
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    runs_dir = Path(args.runs_dir)
    reserved = None
    if args.sweep_id is not None:
        try:
            reserved = sweep_path(runs_dir, args.sweep_id)
        except RunStoreError as e:
            fail(f"{PROG}: error: invalid option --sweep-id: {e}")
    address = args.address or os.environ.get("RAY_ADDRESS") or None
    try:
        if args.max_concurrent is not None and args.max_concurrent < 1:
            raise SweepError("--max-concurrent", f"{args.max_concurrent} is not a whole number >= 1")
        grid = parse_grid_args(args.grid)
        base = base_options(args)
        trials = plan(grid, args.seeds, base, args.samples)
        if address:
            check_address(address)
    except SweepError as e:
        if reserved is not None and (reserved / "sweep.json").exists():
            _mark_failed(reserved, str(e))
        fail(f"{PROG}: error: {e}")

    sweep_id = args.sweep_id or new_run_id("sweep " + " ".join(grid))
    sweep_dir = sweeps_dir_for(runs_dir) / sweep_id
    sweep_dir.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    for t in trials:
        t.run_id = _trial_run_id(t)
        t.config.sweep_id = sweep_id
    previous = _read_or_none(sweep_dir)
    driver = SweepDriver(sweep_dir, new_record(sweep_id, trials, {k: v for k, v in typed_grid(grid).items()},
                                               args, base, address, previous))
    driver.save()
    print(sweep_dir, flush=True)  # first, so a script can watch the sweep
    with Heartbeat(driver.heartbeat):
        return driver.run(trials, runs_dir, address, args.max_concurrent)


def _read_or_none(sweep_dir: Path) -> dict | None:
    try:
        return read_record(sweep_dir)
    except (OSError, ValueError):
        return None


def _mark_failed(sweep_dir: Path, error: str) -> None:
    record = _read_or_none(sweep_dir) or {"id": sweep_dir.name, "trials": []}
    record.update(state="failed", error=error, ended_at=now_iso(), **identity())
    write_record(sweep_dir, record)


# ---------------------------------------------------------------- the sweep process

class SweepDriver:
    """Owns sweep.json while the sweep runs: trial states, accuracies, the final state.

    Two threads write it: the main one (Tune callbacks, the end) and the heartbeat.
    Every change to `record` and every save holds `lock`, so a save never serialises
    a record being changed and neither write loses the other's fields.
    """

    def __init__(self, sweep_dir: Path, record: dict):
        self.sweep_dir, self.record = Path(sweep_dir), record
        self.signals = 0
        self.lock = threading.RLock()

    # Tune pickles its callbacks (ours holds the driver) into its own state files: not the lock.
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    def save(self) -> None:
        with self.lock:
            write_record(self.sweep_dir, self.record)

    def heartbeat(self) -> None:
        """Refresh heartbeat_at (from the Heartbeat thread, every few seconds)."""
        with self.lock:
            self.record["heartbeat_at"] = utc_now_iso()
            self.save()

    def trial(self, index: int) -> dict:
        return self.record["trials"][index]

    # -- events from Ray Tune (in this process's main thread)

    def started(self, index: int) -> None:
        with self.lock:
            if self.trial(index)["state"] == "queued":
                self.trial(index)["state"] = "running"
                self.save()

    def epoch(self, index: int, row: dict) -> None:
        with self.lock:
            t = self.trial(index)
            t["epochs_done"] = int(row.get("epoch", 0))
            if row.get("val_acc") is not None:
                t["val_acc"] = max(row["val_acc"], t.get("val_acc") or 0.0)
            self.save()

    def finished(self, index: int, state: str, val_acc=None, test_acc=None, error=None) -> None:
        with self.lock:
            t = self.trial(index)
            if t["state"] in ("completed", "failed", "cancelled"):
                return
            t.update(state=state, error=error)
            if val_acc is not None:
                t["val_acc"] = val_acc
            if test_acc is not None:
                t["test_acc"] = test_acc
            self.save()
            done = sum(x["state"] in ("completed", "failed", "cancelled") for x in self.record["trials"])
        what = f"test acc {test_acc:.4f}" if test_acc is not None else (error or "")
        print(f"[{done}/{len(self.record['trials'])}] {state:<9} {point_label(t['point'])} seed={t['seed']}  "
              f"{what}  ({t['run_id']})", flush=True)

    # -- signals

    def on_signal(self, signum, frame) -> None:
        self.signals += 1
        flag = self.sweep_dir / CANCEL_FLAG
        if not flag.exists():
            flag.write_text(now_iso() + "\n")
        if self.signals == 1:
            print("cancelling: running trials stop after their current batch (signal again to stop at once)",
                  file=sys.stderr, flush=True)
        else:
            raise KeyboardInterrupt

    def install_signal_handlers(self) -> None:
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self.on_signal)

    # -- the whole sweep

    def run(self, trials: list[Trial], runs_dir: Path, address: str | None, max_concurrent: int | None) -> int:
        self.install_signal_handlers()
        error = None
        try:
            if not cancel_requested(self.sweep_dir):
                _run_on_ray(self, trials, runs_dir, address, max_concurrent)
        except SweepError as e:
            error = str(e)
        except (KeyboardInterrupt, SystemExit):
            (self.sweep_dir / CANCEL_FLAG).touch()
        except Exception as e:  # Ray itself failed: record it, one line
            error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        finally:
            for s in (signal.SIGTERM, signal.SIGINT):  # nothing left to stop: let the record be written
                signal.signal(s, signal.SIG_IGN)
        try:
            return self.finish(runs_dir, error)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def finish(self, runs_dir: Path, error: str | None) -> int:
        cancelled = cancel_requested(self.sweep_dir)
        with self.lock:
            for t in self.record["trials"]:
                if t["state"] in ("completed", "failed", "cancelled"):
                    continue
                run_dir = run_path(runs_dir, t["run_id"])
                if (run_dir / "status.json").exists():  # it started; its run knows how it ended
                    info = load_run(run_dir)
                    t["state"] = info.state if info.state not in ("queued", "running") else "failed"
                    t["test_acc"] = info.summary.get("test_acc", t.get("test_acc"))
                    t["error"] = info.status.get("error")
                else:
                    t["state"] = "cancelled" if cancelled else "failed"
                    t["error"] = None if cancelled else (error or "did not run")
            state = "cancelled" if cancelled else ("failed" if error else "completed")
            self.record.update(state=state, ended_at=now_iso(), error=error)
            self.save()
        if not error or any(t["state"] == "completed" for t in self.record["trials"]):
            print_table(self.record)
        if error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2
        all_done = all(t["state"] == "completed" for t in self.record["trials"])
        return 0 if state == "completed" and all_done else 1


def print_table(record: dict) -> None:
    rows = sweep_table(record)
    axes = list(record.get("grid") or {})
    summary = point_summary(rows, axes)
    if not summary:
        return
    label = [" ".join(f"{a}={s[a]}" for a in axes) or "(base)" for s in summary]
    width = max(12, *(len(x) for x in label))
    print(f"{'point':<{width}}  seeds  mean test acc  std", flush=True)
    for text, s in zip(label, summary):
        mean = f"{s['mean']:.4f}" if s["mean"] is not None else "-"
        std = f"{s['std']:.4f}" if s["std"] is not None else "-"
        print(f"{text:<{width}}  {s['completed']}/{s['trials']:<3}  {mean:>13}  {std}", flush=True)
    print(f"sweep {record['state']}: {record['id']}", flush=True)


def _ray_environment(address: str | None) -> None:
    """Before ray is imported (it reads these at import): our own SIGINT handling,
    short output, and for a cluster a short connect and its token if we have one."""
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if address:
        os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", "5")  # ~1 s each, not 20
        has_token = (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                     or (Path.home() / ".ray" / "auth_token").is_file())
        if has_token:  # a cluster started by `ray start` asks for it (Ray >= 2.59)
            os.environ.setdefault("RAY_AUTH_MODE", "token")


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send fd 2 (Ray's C++ warnings, its daemons' output) to a file for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _ray_init(address: str | None, log_path: Path) -> None:
    import ray

    quiet = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    env_vars = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if os.environ.get("MNIST_DATA_DIR"):
        env_vars["MNIST_DATA_DIR"] = os.environ["MNIST_DATA_DIR"]
    try:
        if address:
            # Workers elsewhere get this project's engine shipped to them.
            with _stderr_to(log_path):
                ray.init(address=address, runtime_env={"py_modules": [str(PROJECT_ROOT / "core")], "env_vars": env_vars},
                         **quiet)
        else:
            # The local workers are this machine's processes: they inherit PYTHONPATH.
            path = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
            with _stderr_to(log_path):
                ray.init(address="local", num_cpus=os.cpu_count() or 1, runtime_env={"env_vars": env_vars}, **quiet)
    except ConnectionError as e:
        reason = str(e).splitlines()[0] if str(e) else "no answer"
        if log_path.is_file() and "InvalidAuthToken" in log_path.read_text(errors="replace")[-20_000:]:
            reason = ("the cluster asks for its authentication token: set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
                      "and RAY_AUTH_MODE=token")
        raise SweepError("--address", f"cannot connect to Ray at {address}: {reason}") from None


def _run_on_ray(driver: SweepDriver, trials: list[Trial], runs_dir: Path, address: str | None,
                max_concurrent: int | None) -> None:
    _ray_environment(address)
    import ray
    from ray import tune

    _ray_init(address, driver.sweep_dir / "ray.log")
    try:
        driver.install_signal_handlers()  # ray.init put its own SIGTERM handler in place
        cpus = int(ray.cluster_resources().get("CPU", 1))
        with driver.lock:
            driver.record["max_concurrent"] = min(max_concurrent or cpus, len(trials))
            driver.record["cluster_cpus"] = cpus
            driver.save()
        specs = [{"index": t.index, "run_id": t.run_id, "config": t.config.to_dict(),
                  "runs_dir": str(Path(runs_dir).absolute()), "cancel_path": str(driver.sweep_dir / CANCEL_FLAG)}
                 for t in trials]
        trainable = tune.with_resources(tune.with_parameters(run_trial, specs=specs), {"cpu": 1})
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search([t.index for t in trials])},
            # Reused actors: a trial's process (and its torch import) serves the next trial.
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True),
            run_config=tune.RunConfig(
                name="tune", storage_path=str(driver.sweep_dir / "ray"), verbose=0,
                callbacks=[_tune_callback(driver)],
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            ),
        )
        tuner.fit()
    finally:
        ray.shutdown()


def _tune_callback(driver: SweepDriver):
    """A Tune callback feeding trial events into the sweep record."""
    from ray import tune

    class RecordCallback(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            driver.started(trial.config["index"])

        def on_trial_result(self, iteration, trials, trial, result, **info):
            index = trial.config["index"]
            if result.get("sweep_final"):
                driver.finished(index, result.get("state") or "failed", result.get("val_acc"),
                                result.get("test_acc"), result.get("error"))
            elif "epoch" in result:
                driver.epoch(index, result)

        def on_trial_error(self, iteration, trials, trial, **info):
            # The trial's process died (the trainable catches its own errors).
            driver.finished(trial.config["index"], "failed", error=_last_error_line(trial))

    return RecordCallback()


def _last_error_line(trial) -> str:
    try:
        lines = [ln for ln in Path(trial.error_file).read_text().splitlines() if ln.strip()]
        return lines[-1].strip()[:300]
    except (OSError, TypeError, IndexError):
        return "the trial's Ray worker failed"


def run_trial(config: dict, specs: list[dict]) -> None:
    """One trial, in a Ray worker: an ordinary run, reporting each epoch to Tune."""
    import torch
    from ray import tune

    from core.engine.config import TrainConfig
    from core.runs.run_process import run_training

    spec = specs[config["index"]]
    torch.set_num_threads(1)
    cancel = Path(spec["cancel_path"])
    final = {"sweep_final": True, "index": spec["index"]}
    if cancel.exists():  # the sweep was cancelled before this trial started
        tune.report({**final, "state": "cancelled"})
        return
    should_stop = cancel_watch(cancel)

    def on_epoch(row: dict) -> None:
        tune.report({**row, "index": spec["index"], "sweep_final": False})

    error = None
    try:
        run_training(TrainConfig.from_dict(spec["config"]), Path(spec["runs_dir"]), run_id=spec["run_id"],
            on_epoch=on_epoch, should_stop=should_stop)
    except Exception as e:  # the run recorded it as failed; the sweep goes on
        error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    info = load_run(Path(spec["runs_dir"]) / spec["run_id"])
    state = info.state if info.state in ("completed", "failed", "cancelled") else "failed"
    tune.report({**final, "state": state, "test_acc": info.summary.get("test_acc"),
                 "val_acc": info.summary.get("best_val_acc"),
                 "error": error or info.status.get("error") or ("; ".join(info.problems) or None)})


# ---------------------------------------------------------------- launching from the app

def launch_sweep(grid: dict[str, list], runs_dir: Path, *, seeds: int = 1, base: dict | None = None,
                 samples: int | None = None, max_concurrent: int | None = None,
                 address: str | None = None) -> str:
    """Validate, reserve a sweep folder and start `python -m core.sweep` as a detached
    child (it survives the page); returns the sweep id. Raises SweepError on bad input."""
    base = dict(base or {})
    plan(grid, seeds, base, samples)  # refuse a bad grid here, in the caller
    if max_concurrent is not None and (isinstance(max_concurrent, bool) or int(max_concurrent) < 1):
        raise SweepError("--max-concurrent", f"{max_concurrent!r} is not a whole number >= 1")
    runs_dir = Path(runs_dir).absolute()
    sweep_id = new_run_id("sweep " + " ".join(grid))
    sweep_dir = sweeps_dir_for(runs_dir) / sweep_id
    sweep_dir.mkdir(parents=True)
    # No pid yet: the child records its own (and the trials) as it starts.
    write_record(sweep_dir, {"id": sweep_id, "created_at": now_iso(), "launched_at": now_iso(), "state": "queued",
                             "pid": None, "error": None, "grid": grid, "seeds": [], "base": base, "trials": []})
    command = [sys.executable, "-m", "core.sweep", *grid_to_args(grid), "--seeds", str(seeds),
               *options_to_args(base), "--runs-dir", str(runs_dir), "--sweep-id", sweep_id]
    if samples is not None:
        command += ["--samples", str(samples)]
    if max_concurrent is not None:
        command += ["--max-concurrent", str(max_concurrent)]
    if address:
        command += ["--address", address]
    with open(sweep_dir / "sweep.log", "wb") as log:
        subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ})
    return sweep_id


if __name__ == "__main__":
    sys.exit(main())
