"""Every epoch's weights: `epochs/epoch-NNN.pt` beside model.pt, so the pages can
show how the kernels formed and the confusion matrix cleared. Epoch 0 is the
initialisation. Each file is a checkpoint like model.pt (loaded with
`weights_only=True`) written atomically the moment its epoch ends, so a killed
run keeps every epoch it finished.

A run keeps all its epochs while they fit in SNAPSHOT_BUDGET_BYTES. Above that
(a wide model trained long) it keeps a thinned set, evenly spread, that always
holds the first, the best and the last.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch.nn as nn

from core.engine.config import TrainConfig
from core.runs.checkpoint import save_checkpoint

SNAPSHOT_DIR = "epochs"
# 32 MB a run: every epoch of the default model (1.6 MB, 15 epochs) and of every
# smaller preset; a run of 100 epochs of it keeps 20.
SNAPSHOT_BUDGET_BYTES = 32 * 2**20
_NAME = re.compile(r"^epoch-(\d{3,})\.pt$")


def snapshot_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / SNAPSHOT_DIR / f"epoch-{epoch:03d}.pt"


def list_snapshots(run_dir: Path) -> list[int]:
    """The epochs whose weights a run kept, in order (empty for older runs)."""
    folder = Path(run_dir) / SNAPSHOT_DIR
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def thin(kept: list[int], limit: int, protected: set[int]) -> list[int]:
    """The epochs to drop so that at most `limit` remain: each time the one whose
    neighbours are closest, so what is left stays evenly spread; never a protected one."""
    kept, dropped = sorted(kept), []
    while len(kept) > max(limit, len(protected & set(kept))):
        candidates = [i for i in range(1, len(kept) - 1) if kept[i] not in protected]
        if not candidates:
            break
        i = min(candidates, key=lambda i: (kept[i + 1] - kept[i - 1], kept[i]))
        dropped.append(kept.pop(i))
    return dropped


class SnapshotKeeper:
    """Writes each epoch's weights as the loop hands them over, within the budget.
    `best` is the epoch validation prefers so far (told by the run's on_best hook)."""

    def __init__(self, run_dir: Path, cfg: TrainConfig, budget_bytes: int = SNAPSHOT_BUDGET_BYTES):
        self.run_dir, self.cfg, self.budget = Path(run_dir), cfg, budget_bytes
        self.best: int | None = None
        (self.run_dir / SNAPSHOT_DIR).mkdir(exist_ok=True)

    def keep(self, epoch: int, model: nn.Module) -> None:
        path = snapshot_path(self.run_dir, epoch)
        save_checkpoint(path, model, self.cfg, epoch=epoch)
        limit = max(3, self.budget // max(1, path.stat().st_size))
        protected = {0, epoch} | ({self.best} if self.best is not None else set())
        for old in thin(list_snapshots(self.run_dir), limit, protected):
            snapshot_path(self.run_dir, old).unlink(missing_ok=True)
            snapshot_path(self.run_dir, old).with_suffix(".json").unlink(missing_ok=True)  # its report
