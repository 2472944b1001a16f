"""Adapting a trained model to one person's handwriting, all their digits at once.

Fine-tuning starts from the parent's weights and trains on the person's digits
(laid out by the drawing path, augmented by the engine like MNIST's) mixed,
batch by batch, with the parent's own training digits, held to the parent as
learning from corrections is (core.engine.online_learning: the parent's digits
nearest the person's, distillation toward the parent's answers on them), so that
the model learns the person's habits without forgetting MNIST. A "round" is one
metrics row: a fixed number of steps, then the weights are scored.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.engine.config import TrainConfig
from core.engine.data import Splits
from core.engine.online_learning import OnlineLearner, StreamRecipe
from core.engine.scoring import score
from core.engine.trainer import Cancelled, Hooks, TrainResult


@dataclass(frozen=True)
class AdaptRecipe:
    rounds: int = 3
    steps_per_round: int = 40
    batch_size: int = 64
    writer_share: float = 0.3  # of each batch: the person's digits; the rest the parent's training digits
    lr: float = 5e-4  # AdamW's peak, falling along a cosine within each round
    distill: float = 2.0  # weight of the loss toward the parent's answers on its own digits
    near_share: float = 0.75  # of the parent's digits: the nearest to the person's in its feature space
    seed: int = 0

    def config(self, parent: TrainConfig, name: str | None) -> TrainConfig:
        """The parent's architecture and augmentation with this recipe's schedule."""
        return dataclasses.replace(parent, optimizer="adamw", lr=self.lr, scheduler="cosine", epochs=self.rounds,
                                   batch_size=self.batch_size, ema=None, seed=self.seed, name=name,
                                   step_size=None, gamma=None, momentum=None, nesterov=None, train_limit=None)

    def rounds_recipe(self) -> StreamRecipe:
        """The learner's recipe: every round's digits are all the person's (no older ones)."""
        return StreamRecipe(steps=self.steps_per_round, batch_size=self.batch_size, newest_share=self.writer_share,
                            older_share=0.0, lr=self.lr, anchor=0.0, distill=self.distill,
                            near_share=self.near_share, seed=self.seed)


def adapt(parent: nn.Module, cfg: TrainConfig, recipe: AdaptRecipe, writer_x: torch.Tensor, writer_y: torch.Tensor,
          replay: Splits, hooks: Hooks | None = None, held_out=None) -> TrainResult:
    """Fine-tune a copy of `parent` (cfg: recipe.config(parent's)); the parent is untouched.
    `held_out`: optional (images, labels) of the person's, scored after each round and only reported."""
    hooks = hooks or Hooks()
    torch.manual_seed(recipe.seed)
    device = torch.device("cpu")
    learner = OnlineLearner(parent, cfg, replay.train_x, replay.train_y, recipe.rounds_recipe())
    result = TrainResult()
    hooks.on_weights(0, learner.model)
    for round_ in range(1, recipe.rounds + 1):
        started = time.perf_counter()

        def on_step(step: int, steps: int, round_=round_) -> None:
            hooks.on_batch(round_, step, steps, None)

        figures = (learner.update(writer_x, writer_y, hooks.should_stop, on_step) if round_ == 1
                   else learner.rehearse(hooks.should_stop, on_step))
        if hooks.should_stop():
            raise Cancelled()
        model = learner.model
        # MNIST's test set is scored once, by the run's report on the weights kept; each
        # round reports the person's digits (taught, and held out: never used to select).
        taught_loss, taught_acc = score(model, writer_x, writer_y, device, cfg.loss)
        val_loss, val_acc = score(model, *held_out, device, cfg.loss) if held_out else (math.nan, math.nan)
        row = {"epoch": round_, "train_loss": figures["train_loss"], "train_acc": figures["train_acc"],
               "val_loss": val_loss, "val_acc": val_acc, "test_loss": math.nan, "test_acc": math.nan,
               "lr": recipe.lr, "epoch_seconds": time.perf_counter() - started,
               "train_eval_loss": taught_loss, "train_eval_acc": taught_acc}
        result.rows.append(row)
        hooks.on_epoch(row)
        # Nothing is selected on the person's held-out digits: the last round is kept.
        result.best_epoch, result.best_val_acc = round_, math.nan
        hooks.on_best(round_, None, model)
        hooks.on_weights(round_, model)
    return result
