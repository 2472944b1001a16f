"""`python -m core.train [options]`: one training run, start to finish, in its
own run directory. Prints the run directory on the last line of stdout.

The process owns its run: it writes config.json and status.json, turns
SIGTERM/SIGINT into a clean cancel (finished epochs and best model kept) and
records any failure before it exits.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from core.runs.command_line import OneLineParser, add_train_options, config_from_args, fail
from core.engine.config import TrainConfig
from core.engine.data import DataError, load_mnist, split
from core.engine.models import build_model, count_parameters
from core.runs.queue import wait_for_slot
from core.runs.store import (DEFAULT_RUNS_DIR, RunStoreError, new_run_id, now_iso, read_json, run_path,
                           write_json_atomic, write_status)
from core.runs.report import write_evaluation
from core.engine.trainer import Cancelled, Hooks, resolve_device, train

PROGRESS_EVERY_S = 0.5


def library_versions() -> dict:
    import numpy
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}


class ProgressWriter:
    """progress.json for the dashboard (throttled) and a tqdm bar on a terminal.

    progress.json carries a `trace` of the running train loss and accuracy
    within epochs, so live curves move seconds after a launch, not an epoch later.
    """

    MAX_TRACE = 400  # points kept; older ones are thinned to every other

    def __init__(self, run_dir: Path, epochs: int, started: float, show_bar: bool):
        self.run_dir, self.epochs, self.started = run_dir, epochs, started
        self.show_bar, self.bar, self.last_write = show_bar, None, 0.0
        self.running: tuple | None = None
        self.trace: list[list[float]] = []  # [fractional epoch, train loss, train accuracy]

    def on_batch(self, epoch: int, batch: int, n_batches: int, running: tuple | None) -> None:
        if running is not None:
            self.running = running
        self._update_bar(epoch, batch, n_batches)
        now = time.monotonic()
        if (now - self.last_write >= PROGRESS_EVERY_S or batch == n_batches) and self.running is not None:
            self.last_write = now
            self.trace.append([round(epoch - 1 + batch / n_batches, 4), *(round(v, 5) for v in self.running)])
            if len(self.trace) > self.MAX_TRACE:
                self.trace = self.trace[::2]
            write_json_atomic(self.run_dir / "progress.json", {
                "epoch": epoch, "epochs": self.epochs, "batch": batch, "batches": n_batches,
                "elapsed": now - self.started, "loss": self.running[0], "trace": self.trace,
            })

    def _update_bar(self, epoch: int, batch: int, n_batches: int) -> None:
        if not self.show_bar:
            return
        if self.bar is None or self.bar.desc != f"epoch {epoch}/{self.epochs}":
            from tqdm import tqdm
            self.close()
            self.bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{self.epochs}", unit="batch", leave=True)
        self.bar.update(1)
        if batch % 50 == 0 and self.running is not None:
            self.bar.set_postfix(loss=f"{self.running[0]:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def describe(cfg: TrainConfig, data_root: Path, device: torch.device) -> dict:
    return {
        **cfg.to_dict(),
        "device_resolved": str(device),
        "data_source": str(data_root),
        "parameters": count_parameters(build_model(cfg)),
        "versions": library_versions(),
        "created_at": now_iso(),
    }


def run(cfg: TrainConfig, runs_dir: Path = DEFAULT_RUNS_DIR, show_bar: bool = False,
        run_id: str | None = None, queue_limit: int = 0, on_epoch=None, should_stop=None) -> Path:
    """Train into a run directory (new, or the one a launcher reserved as `run_id`),
    first waiting until fewer than `queue_limit` runs train (0 = no queue);
    returns the directory whatever happens. Optional extra hooks (a sweep trial's):
    `on_epoch(row)` after each epoch, `should_stop()` polled to cancel cleanly.
    The run records who runs it (host, pid, start time) and beats a heartbeat into
    status.json while it lives; it stops cleanly on SIGTERM/SIGINT or when the file
    `cancel` appears in its folder, queued or training (see core.runs.liveness)."""
    from core.runs.liveness import CANCEL_FILE, Heartbeat, cancel_watch, identity, utc_now_iso

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
    data = None
    # Beats go through write_status, whose lock keeps them from the main thread's writes.
    heartbeat = Heartbeat(lambda: write_status(run_dir, heartbeat_at=utc_now_iso())).start()
    try:
        if stopping() or not wait_for_slot(runs_dir, run_dir, queue_limit, stopping):
            raise Cancelled()
        progress.started = time.monotonic()
        write_status(run_dir, started_at=now_iso())
        device = resolve_device(cfg.device)
        clock = time.perf_counter()
        mnist = load_mnist(cfg.data_dir)
        data = split(mnist, cfg.val_size, cfg.train_limit)
        timings = {"data_load_s": time.perf_counter() - clock}
        described = describe(cfg, mnist.root, device)
        write_json_atomic(run_dir / "config.json", described)
        print(f"{cfg.model}: {described['parameters']:,} parameters, {len(data.train_x):,} training images, "
              f"device {device}", file=sys.stderr, flush=True)
        hooks = Hooks(on_batch=progress.on_batch, on_epoch=on_epoch or (lambda row: None),
                      should_stop=stopping)
        clock = time.perf_counter()
        train(cfg, data, run_dir, hooks)
        timings["train_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        write_evaluation(run_dir, data.test_x, data.test_y, cfg.tta, device)
        timings["evaluation_s"] = time.perf_counter() - clock
        write_status(run_dir, state="completed", ended_at=now_iso(), timings=timings)
    except Cancelled:
        progress.close()
        _finish_cancelled(run_dir, cfg, data)
    except (Exception, KeyboardInterrupt) as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        write_status(run_dir, state="failed", ended_at=now_iso(), error=f"{type(e).__name__}: {message}")
        if not isinstance(e, DataError):
            raise
    finally:
        heartbeat.stop()
        progress.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return run_dir


def _finish_cancelled(run_dir: Path, cfg: TrainConfig, data) -> None:
    """Keep what the cancelled run finished: its metrics, its best model, a report on it."""
    if data is not None and (run_dir / "model.pt").exists():
        write_evaluation(run_dir, data.test_x, data.test_y, cfg.tta)
    write_status(run_dir, state="cancelled", ended_at=now_iso(), error=None)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.train", description="Train an MNIST model into a new run directory.")
    add_train_options(parser)
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), help="where run directories go")
    parser.add_argument("--run-id", help=argparse.SUPPRESS)  # a folder reserved by a launcher
    parser.add_argument("--queue-limit", type=int, default=0,
                        help="wait until fewer than N runs in the store are training (0 = start now)")
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    try:
        resolve_device(cfg.device)
    except RuntimeError as e:
        fail(str(e))
    if args.run_id is not None:
        try:
            run_path(Path(args.runs_dir), args.run_id)
        except RunStoreError as e:
            fail(f"invalid option --run-id: {e}")
    run_dir = run(cfg, Path(args.runs_dir), show_bar=sys.stderr.isatty(), run_id=args.run_id,
                  queue_limit=args.queue_limit)
    status = read_json(run_dir / "status.json")
    if status["state"] == "failed":
        print(status["error"], file=sys.stderr)
        return 2
    summary = read_json(run_dir / "evaluation.json")["summary"] if (run_dir / "evaluation.json").exists() else {}
    if summary:
        print(f"{status['state']}: best epoch {summary['best_epoch']}, val acc {summary['best_val_acc']:.4f}, "
              f"test acc {summary['test_acc']:.4f}", file=sys.stderr)
    return 0 if status["state"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
