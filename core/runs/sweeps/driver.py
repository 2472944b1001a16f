"""The sweep's own process (`python -m core.sweep`): it writes the sweep record,
runs the trials on Ray (core.runs.sweeps.ray_tune, imported only once a sweep really
starts), follows their events and prints the final table.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from pathlib import Path

from core.runs.liveness import Heartbeat, identity, now_iso, request_cancel
from core.runs.messages import one_line
from core.runs.states import FINAL_STATES
from core.runs.store import new_run_id, run_path
from core.runs.sweeps.plan import SweepError, Trial, format_value, point_label, typed_grid
from core.runs.sweeps.record import (
    NEVER_STARTED,
    cancel_requested,
    point_summary,
    read_record,
    sweep_table,
    sweeps_dir_for,
    trial_outcome,
    write_record,
)

PROG = "python -m core.sweep"
CONNECT_TIMEOUT_S = 3.0


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


def trial_run_id(trial: Trial) -> str:
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


def read_or_none(sweep_dir: Path) -> dict | None:
    try:
        return read_record(sweep_dir)
    except (OSError, ValueError):
        return None


def mark_failed(sweep_dir: Path, error: str) -> None:
    """A sweep reserved by the launcher (its sweep.json exists) that cannot start: record why."""
    if not (Path(sweep_dir) / "sweep.json").exists():
        return
    record = read_or_none(sweep_dir) or {"id": Path(sweep_dir).name, "trials": []}
    record.update(state="failed", error=error, ended_at=now_iso(), **identity())
    write_record(sweep_dir, record)


def run_sweep(trials: list[Trial], grid: dict, base: dict, args: argparse.Namespace, address: str | None) -> int:
    """Run planned trials as a sweep in this process (into the folder `--sweep-id`
    reserved, else a new one); returns the exit code."""
    runs_dir = Path(args.runs_dir)
    sweep_id = args.sweep_id or new_run_id("sweep " + " ".join(grid))
    sweep_dir = sweeps_dir_for(runs_dir) / sweep_id
    sweep_dir.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    for t in trials:
        t.run_id = trial_run_id(t)
        t.config.sweep_id = sweep_id
    record = new_record(sweep_id, trials, typed_grid(grid), args, base, address, read_or_none(sweep_dir))
    driver = SweepDriver(sweep_dir, record)
    driver.save()
    print(sweep_dir, flush=True)  # first, so a script can watch the sweep
    with Heartbeat(driver.heartbeat):
        return driver.run(trials, runs_dir, address, args.max_concurrent)


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
            self.record["heartbeat_at"] = now_iso()
            self.save()

    def trial(self, index: int) -> dict:
        return self.record["trials"][index]

    # -- events from Ray Tune (in this process's main thread)

    def cluster(self, cpus: int, at_once: int) -> None:
        """Ray is up: its CPUs, and how many trials run at once."""
        with self.lock:
            self.record["max_concurrent"] = at_once
            self.record["cluster_cpus"] = cpus
            self.save()

    def started(self, index: int) -> None:
        with self.lock:
            if self.trial(index)["state"] == "queued":
                self.trial(index)["state"] = "running"
                self.save()

    def located(self, index: int, node: str, attempt: int) -> None:
        """Where the trial's attempt runs ("IP NODE_ID", Ray's), from its first report on."""
        with self.lock:
            t = self.trial(index)
            if (t.get("node"), t.get("attempts")) != (node, attempt):
                t.update(node=node, attempts=attempt)
                self.save()

    def restarting(self, index: int, reason: str) -> None:
        """Its worker died (a lost node): Tune starts it again."""
        with self.lock:
            t = self.trial(index)
            t["state"], t["error"] = "running", None
            self.save()
        print(f"restarting trial {index} ({t['run_id']}): {reason}", flush=True)

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
            if t["state"] in FINAL_STATES:
                return
            t.update(state=state, error=error)
            if val_acc is not None:
                t["val_acc"] = val_acc
            if test_acc is not None:
                t["test_acc"] = test_acc
            self.save()
            done = sum(x["state"] in FINAL_STATES for x in self.record["trials"])
        what = f"test acc {test_acc:.4f}" if test_acc is not None else (error or "")
        print(f"[{done}/{len(self.record['trials'])}] {state:<9} {point_label(t['point'])} seed={t['seed']}  "
              f"{what}  ({t['run_id']})", flush=True)

    # -- signals

    def on_signal(self, signum, frame) -> None:
        self.signals += 1
        request_cancel(self.sweep_dir)
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
                from core.runs.sweeps.ray_tune import run_on_ray  # Ray only once a sweep really runs

                run_on_ray(self, trials, runs_dir, address, max_concurrent)
        except SweepError as e:
            error = str(e)
        except (KeyboardInterrupt, SystemExit):
            request_cancel(self.sweep_dir)
        except Exception as e:  # Ray itself failed: record it, one line
            error = one_line(e, named=True)
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
                if t["state"] in FINAL_STATES:
                    continue
                outcome = trial_outcome(run_path(runs_dir, t["run_id"]), over=True)
                if outcome is not None:  # it started; its run knows how it ended
                    t.update({k: v for k, v in outcome.items() if v is not None})
                else:
                    t["state"] = "cancelled" if cancelled else "failed"
                    t["error"] = None if cancelled else (error or NEVER_STARTED)
            state, error, summary = sweep_outcome(self.record["trials"], cancelled, error)
            self.record.update(state=state, ended_at=now_iso(), error=error, summary=summary)
            self.save()
        if any(t["state"] == "completed" for t in self.record["trials"]):
            print_table(self.record)
        print(summary, flush=True)
        if state == "failed":
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2
        return 0 if state == "completed" and all(t["state"] == "completed" for t in self.record["trials"]) else 1


def sweep_outcome(trials: list[dict], cancelled: bool, error: str | None) -> tuple[str, str | None, str]:
    """(state, error, summary) of a sweep whose trials have ended: `failed` when no trial
    completed (with the first reason), `completed` when some did, the summary counting
    each end ("7 of 8 trials completed, 1 failed: ...")."""
    n = len(trials)
    ended = {s: [t for t in trials if t["state"] == s] for s in ("completed", "failed", "cancelled")}
    first_failure = next((t.get("error") for t in ended["failed"] if t.get("error")), None)
    summary = f"{len(ended['completed'])} of {n} trials completed"
    if ended["failed"]:
        summary += f", {len(ended['failed'])} failed" + (f": {first_failure}" if first_failure else "")
    if ended["cancelled"]:
        summary += f", {len(ended['cancelled'])} cancelled"
    if cancelled:
        return "cancelled", error, summary
    if error is None and not ended["completed"]:
        error = f"no trial completed: {first_failure or 'none ran'}"
    return ("failed" if error else "completed"), error, summary


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
