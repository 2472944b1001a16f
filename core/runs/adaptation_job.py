"""An adaptation as a run: the parent's weights and one person's handwriting set in,
a run directory out with the same contract as a training run's (see run_process).

config.json records the parent run, its model.pt sha256 and the set's name,
counts and content hash, never the images. evaluation.json adds `adaptation`:
the parent's and the adapted model's accuracy on the person's held-out digits
(none claimed with no digit held out) and on MNIST's test set.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from core.engine.adaptation import AdaptRecipe, adapt
from core.engine.data import split
from core.engine.datasets import TestSet, load_digits
from core.engine.handwriting import default_holdout, handwriting_report, holdout_split, read_handwriting
from core.engine.scoring import predict_scores, test_report
from core.engine.trainer import Hooks
from core.runs.checkpoint import load_model
from core.runs.evaluation_record import ScoredEpochs, other_test_set, write_evaluation
from core.runs.files import read_json
from core.runs.run_process import describe
from core.runs.store import write_json_atomic, write_status


class AdaptationJob:
    def __init__(self, parent_dir: Path, set_dir: Path, holdout: float | None = None,
                 recipe: AdaptRecipe = AdaptRecipe(), name: str | None = None, data_dir: str | None = None):
        self.parent_dir, self.set_dir, self.recipe = Path(parent_dir), Path(set_dir), recipe
        self.parent, parent_cfg, ckpt = load_model(self.parent_dir / "model.pt")
        self.parent_sha256, self.parent_epoch = ckpt["sha256"], ckpt.get("epoch")
        if data_dir is not None:
            parent_cfg = dataclasses.replace(parent_cfg, data_dir=data_dir)
        self.cfg = recipe.config(parent_cfg, name or f"{parent_cfg.name or 'model'} + {self.set_dir.name}")
        self.writer = read_handwriting(self.set_dir, self.cfg.input_side())
        self.holdout = default_holdout(self.writer.counts()) if holdout is None else holdout
        taught, held = holdout_split(self.writer.labels, self.holdout)
        self.taught, self.held = self.writer.subset(taught), self.writer.subset(held)

    def load(self):
        self.digits = load_digits(self.cfg.dataset, self.cfg.data_dir, self.cfg.input_side())
        return split(self.digits, self.cfg.resolved_val_size())

    def describe(self, device) -> dict:
        return {
            **describe(self.cfg, self.digits.root, device),
            "adapted_from": {"run": str(self.parent_dir), "model_sha256": self.parent_sha256,
                             "epoch": self.parent_epoch},
            "handwriting": {"name": self.writer.name, "counts": self.writer.counts(),
                            "samples": len(self.writer.labels), "sha256": self.writer.sha256,
                            "holdout": self.holdout, "taught": len(self.taught.labels),
                            "held_out": len(self.held.labels), "skipped": len(self.writer.skipped)},
            "recipe": dataclasses.asdict(self.recipe),
        }

    def intro(self, described: dict) -> str:
        return (f"adapting {self.parent_dir.name} to {self.writer.name!r}: {len(self.taught.labels)} digits taught, "
                f"{len(self.held.labels)} held out, {described['parameters']:,} parameters")

    def fit(self, data, hooks: Hooks) -> None:
        held = (self.held.images, self.held.labels) if len(self.held.labels) else None
        adapt(self.parent, self.cfg, self.recipe, self.taught.images, self.taught.labels, data, hooks, held)

    def scored_epochs(self, run_dir: Path, data) -> ScoredEpochs:
        """Its rounds score no test set, so there is nothing to reuse: reports score model.pt."""
        return ScoredEpochs(run_dir, TestSet(self.cfg.dataset, data.test_x, data.test_y), tta=False)

    def evaluate(self, run_dir: Path, data, device) -> dict:
        test = TestSet(self.cfg.dataset, data.test_x, data.test_y)
        report = write_evaluation(run_dir, test, other_test_set(self.cfg.dataset, self.cfg.data_dir,
                                                                 self.cfg.input_side()), False, device)
        adapted, _, _ = load_model(Path(run_dir) / "model.pt")
        section = {"parent_test_acc": self._parent_test_acc(test), "test_acc": report["test_acc"],
                   "held_out": None}
        if len(self.held.labels):
            section["held_out"] = {"samples": len(self.held.labels),
                                   "parent": handwriting_report(self.parent, self.held),
                                   "adapted": handwriting_report(adapted, self.held)}
        report["adaptation"] = section
        summary = {**report["summary"], "parent_test_acc": section["parent_test_acc"],
                   "handwriting_acc": section["held_out"]["adapted"]["accuracy"] if section["held_out"] else None,
                   "parent_handwriting_acc": (section["held_out"]["parent"]["accuracy"] if section["held_out"]
                                              else None)}
        report["summary"] = summary
        write_json_atomic(Path(run_dir) / "evaluation.json", report)
        write_status(run_dir, summary=summary)
        return summary

    def _parent_test_acc(self, test: TestSet) -> float:
        """The parent's figure from its own report when that scored these same weights; else scored now."""
        try:
            own = read_json(self.parent_dir / "evaluation.json")
            if own["scored"]["sha256"] == self.parent_sha256 and own.get("dataset", "mnist") == test.dataset:
                return float(own["test_acc"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return test_report(predict_scores(self.parent, test.images, torch.device("cpu")), test.labels)["test_acc"]
