"""progress.json for the dashboard (throttled) and a tqdm bar on a terminal.

progress.json carries a `trace` of the running train loss and accuracy within
epochs, so live curves move seconds after a launch, not an epoch later.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.runs.files import write_json_atomic

PROGRESS_EVERY_S = 0.5


class ProgressWriter:
    """Fed by the training loop's on_batch hook."""

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
