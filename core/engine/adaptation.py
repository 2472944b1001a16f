"""Adapting a trained model to one person's handwriting.

Fine-tuning starts from the parent's weights and trains on the person's digits
(laid out by the drawing path, augmented by the engine like MNIST's) mixed,
batch by batch, with the parent's own training digits, so that the model learns
the person's habits without forgetting MNIST. A "round" is one metrics row: a
fixed number of steps, then the weights are scored.
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
from core.engine.scoring import score
from core.engine.trainer import Hooks, Trainer, TrainResult


@dataclass(frozen=True)
class AdaptRecipe:
    rounds: int = 3
    steps_per_round: int = 40
    batch_size: int = 64
    writer_share: float = 0.3  # of each batch: the person's digits; the rest the parent's training digits
    lr: float = 1e-3
    seed: int = 0

    def config(self, parent: TrainConfig, name: str | None) -> TrainConfig:
        """The parent's architecture and augmentation with this recipe's schedule."""
        return dataclasses.replace(parent, optimizer="adamw", lr=self.lr, scheduler="cosine", epochs=self.rounds,
                                   batch_size=self.batch_size, ema=None, seed=self.seed, name=name,
                                   step_size=None, gamma=None, momentum=None, nesterov=None, train_limit=None)


def _round_tensors(writer_x, writer_y, replay_x, replay_y, recipe: AdaptRecipe, gen: torch.Generator):
    """One round's digits: the writer's repeated to their share, fresh replay digits for the rest."""
    total = recipe.steps_per_round * recipe.batch_size
    n_writer = round(total * recipe.writer_share)
    repeat = torch.arange(n_writer) % len(writer_y)
    pick = torch.randint(len(replay_y), (total - n_writer,), generator=gen)
    return torch.cat([writer_x[repeat], replay_x[pick]]), torch.cat([writer_y[repeat], replay_y[pick]])


def adapt(parent: nn.Module, cfg: TrainConfig, recipe: AdaptRecipe, writer_x: torch.Tensor, writer_y: torch.Tensor,
          replay: Splits, hooks: Hooks | None = None, held_out=None) -> TrainResult:
    """Fine-tune a copy of `parent` (cfg: recipe.config(parent's)); the parent is untouched.
    `held_out`: optional (images, labels) of the person's, scored after each round and only reported."""
    hooks = hooks or Hooks()
    torch.manual_seed(recipe.seed)
    device = torch.device("cpu")
    trainer = Trainer(cfg, device, steps_per_epoch=recipe.steps_per_round)
    trainer.model.load_state_dict(parent.state_dict())
    trainer.frozen_norm = True
    result = TrainResult()
    hooks.on_weights(0, trainer.scored_model)
    for round_ in range(1, recipe.rounds + 1):
        started = time.perf_counter()
        lr = trainer.opt.param_groups[0]["lr"]
        x, y = _round_tensors(writer_x, writer_y, replay.train_x, replay.train_y, recipe, trainer.gen)
        train_loss, train_acc = trainer.train_epoch(x, y, round_, hooks)
        model = trainer.scored_model
        # MNIST's test set is scored once, by the run's report on the weights kept; each
        # round reports the person's digits (taught, and held out: never used to select).
        test_loss, test_acc = math.nan, math.nan
        taught_loss, taught_acc = score(model, writer_x, writer_y, device, cfg.loss)
        val_loss, val_acc = score(model, *held_out, device, cfg.loss) if held_out else (math.nan, math.nan)
        row = {"epoch": round_, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
               "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc, "lr": lr,
               "epoch_seconds": time.perf_counter() - started,
               "train_eval_loss": taught_loss, "train_eval_acc": taught_acc}
        result.rows.append(row)
        hooks.on_epoch(row)
        # Nothing is selected on the person's held-out digits: the last round is kept.
        result.best_epoch, result.best_val_acc = round_, math.nan
        hooks.on_best(round_, None, model)
        hooks.on_weights(round_, model)
    return result
