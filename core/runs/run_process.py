"""The process that owns one run: its folder, config.json and status.json, the
queue, signals and the cancel file, the heartbeat, the metrics and checkpoints
the loop hands over, and the final report. `python -m core.train`, the
dashboard's launcher and a sweep's Ray trial all train through `run_training`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import torch

from core.engine.config import TrainConfig
from core.engine.data import DataError, split
from core.engine.datasets import TestSet, load_digits
from core.engine.models import build_model, count_parameters
from core.engine.trainer import Cancelled, Hooks, fit, resolve_device
from core.runs.checkpoint import save_checkpoint
from core.runs.evaluation_record import ScoredEpochs, other_test_set, write_evaluation
from core.runs.files import read_json, write_bytes_atomic, write_json_atomic
from core.runs.liveness import CANCEL_FILE, Heartbeat, cancel_watch, identity, now_iso
from core.runs.messages import one_line
from core.runs.progress import ProgressWriter
from core.runs.provenance import provenance
from core.runs.queue import wait_for_slot
from core.runs.snapshots import SNAPSHOT_BUDGET_BYTES, SnapshotKeeper
from core.runs.store import DEFAULT_RUNS_DIR, metrics_to_csv, new_run_id, run_path, write_status
from core.runs.tensorboard_log import TensorBoardLog


def describe(cfg: TrainConfig, data_root: Path, device: torch.device) -> dict:
    return {
        **cfg.to_dict(),
        "device_resolved": str(device),
        "data_source": str(data_root),
        "parameters": count_parameters(build_model(cfg)),
        **provenance(),  # command, git, host, platform, versions
        "created_at": now_iso(),
    }


class TrainingJob:
    """What a training run does inside the process that owns it: load its digits,
    describe itself for config.json, fit, and report on the weights kept."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    def load(self):
        self.digits = load_digits(self.cfg.dataset, self.cfg.data_dir, self.cfg.input_side())
        self.data = split(self.digits, self.cfg.resolved_val_size(), self.cfg.train_limit)
        return self.data

    def describe(self, device: torch.device) -> dict:
        return describe(self.cfg, self.digits.root, device)

    def intro(self, described: dict) -> str:
        return (f"{self.cfg.model}: {described['parameters']:,} parameters, "
                f"{len(self.data.train_x):,} training images, device {described['device_resolved']}")

    def fit(self, data, hooks: Hooks) -> None:
        fit(self.cfg, data, hooks)

    def scored_epochs(self, run_dir: Path, data) -> ScoredEpochs:
        """Keeps the loop's test-set scores for the reports (see core.runs.evaluation_record)."""
        self.scored = ScoredEpochs(run_dir, TestSet(self.cfg.dataset, data.test_x, data.test_y), self.cfg.tta)
        return self.scored

    def evaluate(self, run_dir: Path, data, device) -> dict:
        return _evaluate(run_dir, self.cfg, data, device, getattr(self, "scored", None))


def run_training(cfg: TrainConfig, runs_dir: Path = DEFAULT_RUNS_DIR, show_bar: bool = False,
        run_id: str | None = None, queue_limit: int = 0, on_epoch=None, should_stop=None,
        snapshot_budget: int = SNAPSHOT_BUDGET_BYTES, job=None) -> Path:
    """Train into a run directory (new, or the one a launcher reserved as `run_id`),
    first waiting until fewer than `queue_limit` runs train (0 = no queue);
    returns the directory whatever happens. Optional extra hooks (a sweep trial's):
    `on_epoch(row)` after each epoch, `should_stop()` polled to cancel cleanly.
    The run records who runs it (host, pid, start time) and beats a heartbeat into
    status.json while it lives; it stops cleanly on SIGTERM/SIGINT or when the file
    `cancel` appears in its folder, queued or training (see core.runs.liveness).
    `job` says what is trained (a TrainingJob of `cfg` unless given, e.g. an adaptation)."""
    job = job or TrainingJob(cfg)
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_dir = run_path(runs_dir, run_id or new_run_id(cfg.name or cfg.preset or cfg.model))
    run_dir.mkdir(exist_ok=run_id is not None)
    print(run_dir, flush=True)  # first, so a script can watch the run while it trains
    write_status(run_dir, state="queued", **identity(os.getpid()), ended_at=None, error=None)
    write_json_atomic(run_dir / "config.json", {**cfg.to_dict(), "created_at": now_iso()})

    stop = {"asked": False}
    cancel_requested = cancel_watch(run_dir / CANCEL_FILE)

    def ask_to_stop(signum, frame):
        stop["asked"] = True

    def stopping() -> bool:
        return stop["asked"] or cancel_requested() or bool(should_stop and should_stop())

    # Signals can only be caught on the main thread (not, say, in a sweep worker thread).
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGTERM, signal.SIGINT)} if on_main_thread else {}
    progress = ProgressWriter(run_dir, cfg.epochs, time.monotonic(), show_bar)
    data = board = summary = None
    state = "failed"  # until the run says otherwise
    # Beats go through write_status, whose lock keeps them from the main thread's writes.
    heartbeat = Heartbeat(lambda: write_status(run_dir, heartbeat_at=now_iso())).start()
    try:
        if stopping() or not wait_for_slot(runs_dir, run_dir, queue_limit, stopping):
            raise Cancelled()
        progress.started = time.monotonic()
        write_status(run_dir, started_at=now_iso())
        device = resolve_device(cfg.device)
        clock = time.perf_counter()
        data = job.load()
        timings = {"data_load_s": time.perf_counter() - clock}
        described = _renamed_meanwhile(run_dir, job.describe(device))
        write_json_atomic(run_dir / "config.json", described)
        print(job.intro(described), file=sys.stderr, flush=True)
        snapshots = SnapshotKeeper(run_dir, cfg, snapshot_budget)
        board = TensorBoardLog(run_dir, cfg)

        scored = job.scored_epochs(run_dir, data)

        def on_best(epoch: int, val_acc: float | None, model) -> None:
            save_checkpoint(run_dir / "model.pt", model, cfg, epoch=epoch, val_acc=val_acc)
            snapshots.best = epoch
            scored.on_best(epoch)

        first_step = _first_step(timings)
        hooks = Hooks(on_batch=_each(first_step, progress.on_batch, board.on_batch),
                      on_epoch=_epoch_writer(run_dir, _each(board.on_epoch, on_epoch)), on_best=on_best,
                      on_test_scores=scored.on_test_scores, on_weights=_each(snapshots.keep, scored.on_weights),
                      should_stop=stopping)
        clock = time.perf_counter()
        job.fit(data, hooks)
        timings["train_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        summary = job.evaluate(run_dir, data, device)
        timings["evaluation_s"] = time.perf_counter() - clock
        state = "completed"
        write_status(run_dir, state=state, ended_at=now_iso(), timings=timings)
    except Cancelled:
        progress.close()
        state = "cancelled"
        summary = _finish_cancelled(run_dir, job, data)
    except (Exception, KeyboardInterrupt) as e:
        message = one_line(e, None)
        write_status(run_dir, state="failed", ended_at=now_iso(), error=f"{type(e).__name__}: {message}")
        if not isinstance(e, DataError):
            raise
    finally:
        heartbeat.stop()
        progress.close()
        if board is not None:
            board.close(state, summary)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return run_dir


def _renamed_meanwhile(run_dir: Path, described: dict) -> dict:
    """config.json as described now, with the name the user gave the run while it was
    queued or loading (core.runs.store.rename_run writes it there): a rename is kept."""
    try:
        name = read_json(run_dir / "config.json").get("name")
    except (OSError, ValueError, AttributeError):
        return described
    return {**described, "name": name} if isinstance(name, str) and name else described


def _first_step(timings: dict):
    """An on_batch hook that records, once, the seconds from the process's start (the
    shell, the interpreter, every import, provenance, the TensorBoard writer, the data)
    to the end of the first training step, and prints them."""
    def on_batch(epoch: int, batch: int, n_batches: int, running) -> None:
        if "startup_s" not in timings:
            timings["startup_s"] = process_age_s()
            print(f"start-up {timings['startup_s']:.1f} s (to the first training step, data load "
                  f"{timings['data_load_s']:.1f} s)", file=sys.stderr, flush=True)
    return on_batch


def process_age_s() -> float:
    """Seconds since this process started: to 10 ms from /proc on Linux (psutil's
    create_time rests on a boot time rounded to the second), else psutil's."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in clock ticks
    except (OSError, ValueError, IndexError):
        return time.time() - psutil.Process().create_time()


def _each(*hooks):
    """One hook calling several in turn (None skipped)."""
    def call(*args) -> None:
        for hook in hooks:
            if hook is not None:
                hook(*args)
    return call


def _epoch_writer(run_dir: Path, then=None):
    """The on_epoch hook: metrics.csv rewritten (atomically) with every finished epoch."""
    rows: list[dict] = []

    def on_epoch(row: dict) -> None:
        rows.append(row)
        write_bytes_atomic(run_dir / "metrics.csv", metrics_to_csv(rows))
        if then is not None:
            then(row)
    return on_epoch


def _evaluate(run_dir: Path, cfg: TrainConfig, data, device: torch.device | str = "cpu",
              scored: ScoredEpochs | None = None) -> dict:
    """Write the report of the kept model; returns evaluation.json's summary. The epochs'
    own reports were written as each ended (epoch 0's is made when a page first asks)."""
    test = TestSet(cfg.dataset, data.test_x, data.test_y)
    report = write_evaluation(run_dir, test, other_test_set(cfg.dataset, cfg.data_dir, cfg.input_side()), cfg.tta,
                              device, scored)
    return report["summary"]


def _finish_cancelled(run_dir: Path, job, data) -> dict | None:
    """Keep what the cancelled run finished: its metrics, its best model, a report on it
    (whose summary it returns, None without one)."""
    summary = job.evaluate(run_dir, data, "cpu") if data is not None and (run_dir / "model.pt").exists() else None
    write_status(run_dir, state="cancelled", ended_at=now_iso(), error=None)
    return summary
