"""The two ways a learning run is driven (core.runs.learning_run):

- `follow`: the process behind Draw's "Learn from my corrections". It owns the
  run (status, pid, heartbeat, SIGTERM and the cancel file, as any run) and
  learns each digit that lands in the set, one round for whatever arrived since
  the last (clicks faster than rounds queue into the next, none is lost). Idle
  for a while it writes the report; idle for long it ends, and the next
  correction starts it again from its last weights.
- `stream`: `python -m core.adapt --stream`, the same loop over a set's files in
  order, each read by the current model before it is ever taught.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import threading
import time

import torch

from core.engine.handwriting import HandwritingDigits
from core.engine.scoring import predict_scores
from core.runs.learning_run import Correction, LearningRun, read_corrections
from core.runs.liveness import CANCEL_FILE, Heartbeat, cancel_watch, identity, now_iso
from core.runs.messages import one_line
from core.runs.store import write_status

POLL_S = 0.05  # how often the set is looked at for new digits (a directory listing)
REPORT_AFTER_IDLE_S = 30.0
# A follower idle this long ends (the next correction starts another); tests shorten it.
IDLE_EXIT_S = float(os.environ.get("DIGIT_LAB_LEARN_IDLE_S") or 600.0)


class _Owner:
    """This process as the run's owner: status, heartbeat, and the ways to be asked to stop."""

    def __init__(self, run: LearningRun):
        self.run_dir = run.run_dir
        self.asked = False
        self.cancel = cancel_watch(self.run_dir / CANCEL_FILE)

    def __enter__(self) -> "_Owner":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_status(self.run_dir, state="running", **identity(os.getpid()), started_at=now_iso(), ended_at=None,
                     error=None, note=None)
        self.heartbeat = Heartbeat(lambda: write_status(self.run_dir, heartbeat_at=now_iso())).start()
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                signal.signal(s, self._ask)
        return self

    def _ask(self, signum, frame) -> None:
        self.asked = True

    def stopping(self) -> bool:
        return self.asked or self.cancel()

    def __exit__(self, kind, error, tb) -> bool:
        self.heartbeat.stop()
        if error is not None:
            write_status(self.run_dir, state="failed", ended_at=now_iso(),
                         error=f"{kind.__name__}: {one_line(error, None)}")
        return False


def follow(run: LearningRun, idle_exit_s: float = IDLE_EXIT_S, log=sys.stderr) -> str:
    """Learn the set's new digits as they land until idle, cancelled or the set is gone;
    returns the final state."""
    with _Owner(run) as owner:
        run.open()
        unreadable: set[str] = set()
        last, reported, note = time.monotonic(), False, None
        while not owner.stopping():
            if run.set_is_gone():
                note = "the set was deleted or reset: learning stopped (this run keeps its name, counts and hash)"
                break
            names = [n for n in run.pending() if n not in unreadable]
            if names:
                corrections, skipped = read_corrections(run.set.path, names, run.side)
                unreadable.update(name for name, _ in skipped)
                if corrections:
                    figures = run.teach(corrections, owner.stopping)
                    print(json.dumps({"epoch": figures["epoch"], "new": figures["new"], "taught": figures["taught"],
                                      "seconds": round(figures["seconds"], 3)}), file=log, flush=True)
                last, reported = time.monotonic(), False
                continue
            idle = time.monotonic() - last
            if not reported and idle > REPORT_AFTER_IDLE_S:
                run.evaluate()
                reported = True
            if idle > idle_exit_s:
                break
            time.sleep(POLL_S)
        if not reported:
            run.evaluate()
        state = "cancelled" if owner.stopping() else "completed"
        write_status(run.run_dir, state=state, ended_at=now_iso(), note=note)
    return state


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def stream(run: LearningRun, digits: HandwritingDigits, teach: str = "misread", out=sys.stdout) -> dict:
    """Each of the set's digits in the order of their file names (sample ids, across
    digits): read by the current model, then taught (every one, or only the misread);
    one JSON line each on `out`; returns the summary line's figures."""
    order = sorted(range(len(digits.labels)), key=lambda i: (digits.files[i].split("/")[-1], digits.files[i]))
    with _Owner(run) as owner:
        run.open()
        parent_reads = predict_scores(run.parent, digits.images, torch.device("cpu")).argmax(1)
        before = run.mnist_accuracy(run.parent)
        wrong, parent_wrong, seconds = [], [], []
        for i in order:
            if owner.stopping():
                break
            c = Correction(digits.files[i], digits.images[i], int(digits.labels[i]))
            read_as = run.read([c])[0]
            right = read_as == c.digit
            taught = teach == "all" or not right
            update_s = run.teach([c], owner.stopping)["seconds"] if taught else None
            if update_s is not None:
                seconds.append(update_s)
            wrong.append(not right)
            parent_wrong.append(int(parent_reads[i]) != c.digit)
            print(json.dumps({"file": c.name, "digit": c.digit, "read_as": read_as, "right": right, "taught": taught,
                              "update_seconds": None if update_s is None else round(update_s, 3)}),
                  file=out, flush=True)
        half = len(wrong) // 2
        summary = run.evaluate()
        figures = {
            "summary": True, "images": len(wrong), "teach": teach,
            "errors_first_half": sum(wrong[:half]), "errors_second_half": sum(wrong[half:]),
            "parent_errors_first_half": sum(parent_wrong[:half]), "parent_errors_second_half": sum(parent_wrong[half:]),
            "updates": len(seconds),
            "update_seconds_median": round(statistics.median(seconds), 3) if seconds else None,
            "update_seconds_p95": round(_p95(seconds), 3) if seconds else None,
            "mnist_before": before, "mnist_after": summary["test_acc"], "run": str(run.run_dir),
        }
        write_status(run.run_dir, state="cancelled" if owner.stopping() else "completed", ended_at=now_iso())
    print(json.dumps(figures), file=out, flush=True)
    return figures
