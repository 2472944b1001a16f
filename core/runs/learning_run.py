"""Your model: a run that learns a handwriting set's digits one correction at a time
(core.engine.online_learning), in a run folder with the same contract as any run.

config.json records the parent (its model.pt sha256) and the set (name, when it
was made, and the counts and content hash of the digits learned so far, never
the images); `learned.json` lists the set's files learned, in order. Each round
writes model.pt (atomically: a reader sees the previous weights or the new ones,
never half), then `learned.json`, the round's `epochs/epoch-NNN.pt` and its
metrics row. A process killed mid-round leaves the last good weights, and the
next one takes the set's unlearned digits from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from core.engine.data import split
from core.engine.datasets import TestSet, load_digits
from core.engine.image_reading import ImageError
from core.engine.ink import NoDigitError
from core.engine.online_learning import OnlineLearner, StreamRecipe
from core.engine.preprocess import prepare_digit
from core.engine.scoring import predict_scores, score, test_report
from core.runs.checkpoint import load_model, read_checkpoint, save_checkpoint
from core.runs.evaluation_record import other_test_set, write_evaluation
from core.runs.files import read_json, write_bytes_atomic, write_json_atomic
from core.runs.handwriting_sets import HandwritingSet
from core.runs.liveness import now_iso
from core.runs.run_process import describe
from core.runs.snapshots import SnapshotKeeper
from core.runs.store import metrics_to_csv, read_metrics, write_status

LEARNED = "learned.json"
# Each round is scored on this many of MNIST's validation digits (never trained on):
# a quick look at what it costs MNIST, after the new weights already serve.
CHECK_SIZE = 1000


@dataclass(frozen=True)
class Correction:
    name: str  # the file in the set: "<digit>/<id>.png"
    image: torch.Tensor  # uint8 [side, side], laid out by the drawing path
    digit: int


def read_corrections(set_dir: Path, names: list[str], side: int) -> tuple[list[Correction], list[tuple[str, str]]]:
    """The set's files `names` through the drawing path; (read, [(name, why) skipped])."""
    read, skipped = [], []
    for name in names:
        try:
            prepared = prepare_digit((Path(set_dir) / name).read_bytes(), side)
        except (ImageError, NoDigitError, OSError) as e:
            skipped.append((name, str(e)))
            continue
        read.append(Correction(name, torch.from_numpy(prepared.laid_out), int(name.split("/")[0])))
    return read, skipped


def _stack(corrections: list[Correction]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([c.image for c in corrections]), torch.tensor([c.digit for c in corrections])


def find_learning_run(runs, parent_sha256: str, hw: HandwritingSet):
    """The newest run among `runs` (RunInfo, newest first) that learns `hw` from that parent."""
    made = hw.manifest.get("created_at")
    for run in runs:
        learning = (run.config or {}).get("learning") or {}
        record = (run.config or {}).get("handwriting") or {}
        if (learning.get("mode") == "corrections" and record.get("name") == hw.name
                and record.get("created_at") == made
                and ((run.config or {}).get("adapted_from") or {}).get("model_sha256") == parent_sha256):
            return run
    return None


class LearningRun:
    """One learning run's folder and, once `open()`ed, its learner."""

    def __init__(self, run_dir: Path, parent_dir: Path, set_dir: Path, mode: str = "corrections",
                 recipe: StreamRecipe = StreamRecipe(), data_dir: str | None = None, name: str | None = None):
        self.run_dir, self.parent_dir, self.set = Path(run_dir), Path(parent_dir), HandwritingSet(Path(set_dir))
        self.mode, self.recipe = mode, recipe
        self.parent, parent_cfg, ckpt = load_model(self.parent_dir / "model.pt")
        self.parent_sha256, self.parent_epoch = ckpt["sha256"], ckpt.get("epoch")
        self.parent_name = parent_cfg.name
        self.cfg = dataclasses.replace(
            parent_cfg, optimizer="adamw", lr=recipe.lr, scheduler="cosine", epochs=1, batch_size=recipe.batch_size,
            ema=None, seed=recipe.seed, step_size=None, gamma=None, momentum=None, nesterov=None, train_limit=None,
            data_dir=data_dir if data_dir is not None else parent_cfg.data_dir,
            name=name or f"yours: {parent_cfg.name or 'model'} + {self.set.name}")
        self.side = self.cfg.input_side()
        self.set_created_at = self.set.manifest.get("created_at")
        self.learned: list[str] = []
        self.rows: list[dict] = []
        self._parent_test_acc: float | None = None

    # ------------------------------------------------------------ opening

    def open(self) -> "LearningRun":
        """Load the parent's digits and the learner: fresh, or resumed from model.pt."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        digits = load_digits(self.cfg.dataset, self.cfg.data_dir, self.side)
        self.data = split(digits, self.cfg.resolved_val_size())
        self.check = (self.data.val_x[:CHECK_SIZE], self.data.val_y[:CHECK_SIZE])
        state, taught = self._resume()
        tx, ty = _stack(taught) if taught else (None, None)
        self.learner = OnlineLearner(self.parent, self.cfg, self.data.train_x, self.data.train_y, self.recipe,
                                     state=state, taught_x=tx, taught_y=ty)
        self.snapshots = SnapshotKeeper(self.run_dir, self.cfg)
        if state is None:
            self.described = describe(self.cfg, digits.root, torch.device("cpu"))
            self.snapshots.keep(0, self.parent)  # epoch 0: the parent itself
            save_checkpoint(self.run_dir / "model.pt", self.parent, self.cfg, epoch=0, val_acc=None)
            self._write_config()
        return self

    def _resume(self):
        """(weights, corrections learned) from the folder; (None, []) for a new run."""
        try:
            ckpt = read_checkpoint(self.run_dir / "model.pt")
            record = read_json(self.run_dir / LEARNED)
            self.described = read_json(self.run_dir / "config.json")
            self.rows = read_metrics(self.run_dir / "metrics.csv") if (self.run_dir / "metrics.csv").exists() else []
        except (OSError, ValueError):
            return None, []
        names = [n for n in record.get("learned", []) if isinstance(n, str)]
        taught, _ = read_corrections(self.set.path, names, self.side)
        self.learned = [c.name for c in taught]  # a deleted sample is no longer taught
        return ckpt["state_dict"], taught

    # ------------------------------------------------------------ rounds

    def set_is_gone(self) -> bool:
        """The set was deleted, or reset ("forget my corrections" makes it anew)."""
        return not self.set.exists() or self.set.manifest.get("created_at") != self.set_created_at

    def pending(self) -> list[str]:
        """The set's files not learned yet, oldest first (sample ids start with their time)."""
        done = set(self.learned)
        return sorted((f"{s.digit}/{s.id}.png" for s in self.set.samples() if f"{s.digit}/{s.id}.png" not in done),
                      key=lambda n: n.split("/")[1])

    def read(self, corrections: list[Correction]) -> list[int]:
        return self.learner.read(_stack(corrections)[0]).tolist()

    def teach(self, corrections: list[Correction], should_stop=lambda: False) -> dict:
        """One round on these corrections; the new weights are in model.pt when it returns."""
        x, y = _stack(corrections)
        figures = self.learner.update(x, y, should_stop)
        epoch = len(self.rows) + 1
        save_checkpoint(self.run_dir / "model.pt", self.learner.model, self.cfg, epoch=epoch, val_acc=None)
        self.learned += [c.name for c in corrections]
        write_json_atomic(self.run_dir / LEARNED, {"learned": self.learned, "updated_at": now_iso()})
        served_after = figures["seconds"]
        self.snapshots.keep(epoch, self.learner.model)
        check_loss, check_acc = score(self.learner.model, *self.check, torch.device("cpu"), self.cfg.loss)
        taught_loss, taught_acc = score(self.learner.model, self.learner.taught_x, self.learner.taught_y,
                                        torch.device("cpu"), self.cfg.loss)
        row = {"epoch": epoch, "train_loss": figures["train_loss"], "train_acc": figures["train_acc"],
               "val_loss": check_loss, "val_acc": check_acc, "test_loss": math.nan, "test_acc": math.nan,
               "lr": self.recipe.lr, "epoch_seconds": served_after,
               "train_eval_loss": taught_loss, "train_eval_acc": taught_acc}
        self.rows.append(row)
        write_bytes_atomic(self.run_dir / "metrics.csv", metrics_to_csv(self.rows))
        self._write_config()
        return {**figures, "epoch": epoch}

    def _write_config(self) -> None:
        counts = [0] * 10
        digest = hashlib.sha256()
        for name in self.learned:
            counts[int(name.split("/")[0])] += 1
            digest.update(f"{name}\n".encode())
            try:
                digest.update(hashlib.sha256((self.set.path / name).read_bytes()).digest())
            except OSError:
                pass
        write_json_atomic(self.run_dir / "config.json", {
            **self.described, "name": self.cfg.name,
            "adapted_from": {"run": str(self.parent_dir), "model_sha256": self.parent_sha256,
                             "epoch": self.parent_epoch, "name": self.parent_name},
            "handwriting": {"name": self.set.name, "created_at": self.set_created_at,
                            "counts": counts, "samples": len(self.learned), "sha256": digest.hexdigest()},
            "learning": {"mode": self.mode, "recipe": dataclasses.asdict(self.recipe), "updates": len(self.rows)},
        })

    # ------------------------------------------------------------ reports

    def mnist_accuracy(self, model) -> float:
        return test_report(predict_scores(model, self.data.test_x, torch.device("cpu")), self.data.test_y)["test_acc"]

    def evaluate(self) -> dict:
        """evaluation.json on the weights in model.pt (MNIST's and the other set's test
        digits), with the parent's MNIST figure beside it."""
        test = TestSet(self.cfg.dataset, self.data.test_x, self.data.test_y)
        report = write_evaluation(self.run_dir, test, other_test_set(self.cfg.dataset, self.cfg.data_dir, self.side))
        if self._parent_test_acc is None:
            self._parent_test_acc = self.mnist_accuracy(self.parent)
        summary = {**report["summary"], "parent_test_acc": self._parent_test_acc,
                   "learned": len(self.learned)}
        write_status(self.run_dir, summary=summary)
        return summary


def model_updated_at(run_dir: Path) -> float | None:
    """When the weights last changed (model.pt's time), None without them."""
    try:
        return (Path(run_dir) / "model.pt").stat().st_mtime
    except OSError:
        return None


def seconds_since(stamp: float | None) -> float | None:
    return None if stamp is None else max(0.0, time.time() - stamp)
