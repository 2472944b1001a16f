"""Learning from corrections one at a time: each correction is a short round of
steps from the current weights, so a person's next digit is read by a model that
has seen their last one.

Forgetting MNIST, not learning the person, is the hard part: plain fine-tuning
until a habit reads right cost 0.6 - 1.4 points of MNIST a writer (the
person's 1 under a hat is an MNIST 7 to the model, and the 7s pay for it). A
round holds the model to its parent four ways, each measured on the writers of
tests/writers.py (README, "Learning as you draw"):
- a batch is one eighth the round's new corrections and one eighth the older
  ones (repeated, augmented as in training), the rest the parent's own digits;
- three quarters of those are the parent's digits nearest to the corrections in
  its own feature space, the ones a moved boundary misreads first;
- on the parent's digits the loss is toward the parent's answers (distillation),
  and every weight is pulled back toward the parent's (an L2 anchor, "L2-SP");
- the learning rate falls along a cosine within the round, so its last steps
  consolidate instead of ending on the boundary. Batch norm keeps the parent's
  statistics.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.engine import optimizers
from core.engine.config import TrainConfig
from core.engine.data import normalize
from core.engine.features import penultimate
from core.engine.trainer import training_batch


@dataclass(frozen=True)
class StreamRecipe:
    steps: int = 32  # a round: corrections that arrive together share one
    batch_size: int = 64
    newest_share: float = 0.125  # of each batch: the round's new corrections (all theirs while none are older)
    older_share: float = 0.125  # the person's earlier corrections
    lr: float = 3e-4  # AdamW's peak, falling along a cosine within the round
    anchor: float = 1.0  # weight of the pull toward the parent's weights (sum of squared differences)
    distill: float = 2.0  # weight of the loss toward the parent's answers on its own digits
    near_share: float = 0.75  # of the parent's digits: the nearest to the corrections in its feature space
    neighbours: int = 64  # kept per correction, among the first `pool` of the parent's digits
    pool: int = 20_000
    seed: int = 0


def unit_rows(features: torch.Tensor) -> torch.Tensor:
    return F.normalize(features.flatten(1), dim=1)


@torch.inference_mode()
def _train_with_frozen_norm(model: nn.Module) -> None:
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


class OnlineLearner:
    """A copy of `parent` that learns a person's digits, round by round.

    `replay_x/y`: the parent's training digits (uint8 [N, side, side]). A resumed
    learner gets its weights in `state` and what it was taught in `taught_x/y`."""

    def __init__(self, parent: nn.Module, cfg: TrainConfig, replay_x: torch.Tensor, replay_y: torch.Tensor,
                 recipe: StreamRecipe = StreamRecipe(), state: dict | None = None,
                 taught_x: torch.Tensor | None = None, taught_y: torch.Tensor | None = None):
        self.cfg, self.recipe = cfg, recipe
        self.parent = copy.deepcopy(parent).eval().requires_grad_(False)
        self.model = copy.deepcopy(parent).eval().requires_grad_(True)
        if state is not None:
            self.model.load_state_dict(state)
        self.anchor = [p.detach().clone() for p in self.parent.parameters()]
        self.opt = optimizers.Adam(self.model.parameters(), lr=recipe.lr, weight_decay=0.0, decoupled=True)
        self.replay_x, self.replay_y = replay_x, replay_y
        side = replay_x.shape[-1]
        self.taught_x = taught_x if taught_x is not None else torch.empty(0, side, side, dtype=torch.uint8)
        self.taught_y = (taught_y if taught_y is not None else torch.empty(0)).long()
        self.gen = torch.Generator().manual_seed(recipe.seed + len(self.taught_y))
        self.pool_features = unit_rows(penultimate(self.parent, replay_x[:recipe.pool]))
        self.near = torch.empty(0, dtype=torch.long)
        if len(self.taught_y):
            self._add_neighbours(self.taught_x)

    @torch.inference_mode()
    def read(self, images: torch.Tensor) -> torch.Tensor:
        """The current model's answers for uint8 [N, side, side] digits."""
        return self.model.eval()(normalize(images)).argmax(1)

    def _add_neighbours(self, images: torch.Tensor) -> None:
        sims = unit_rows(penultimate(self.parent, images)) @ self.pool_features.T
        k = min(self.recipe.neighbours, sims.shape[1])
        self.near = torch.unique(torch.cat([self.near, sims.topk(k, dim=1).indices.flatten()]))

    def _batch(self, n_new: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """uint8 images and labels: the person's first (newest, then older), then the
        parent's; returns how many are the person's."""
        r, bs = self.recipe, self.recipe.batch_size
        n_older = len(self.taught_y) - n_new
        k_new, k_old = round(bs * r.newest_share), round(bs * r.older_share)
        if n_older == 0:
            k_new, k_old = k_new + k_old, 0
        mine = torch.cat([n_older + torch.randint(n_new, (k_new,), generator=self.gen),
                          torch.randint(max(1, n_older), (k_old,), generator=self.gen)])
        n_replay = bs - len(mine)
        k_near = round(n_replay * r.near_share) if len(self.near) else 0
        replay = torch.cat([self.near[torch.randint(len(self.near), (k_near,), generator=self.gen)],
                            torch.randint(len(self.replay_y), (n_replay - k_near,), generator=self.gen)])
        return (torch.cat([self.taught_x[mine], self.replay_x[replay]]),
                torch.cat([self.taught_y[mine], self.replay_y[replay]]), len(mine))

    def _loss(self, scores: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, n_mine: int) -> torch.Tensor:
        r = self.recipe
        loss = F.cross_entropy(scores[:n_mine], labels[:n_mine], label_smoothing=self.cfg.label_smoothing or 0.0)
        with torch.no_grad():
            target = F.softmax(self.parent(x[n_mine:]), 1)
        loss = loss + r.distill * F.cross_entropy(scores[n_mine:], target)
        return loss + r.anchor * sum(((p - a) ** 2).sum() for p, a in zip(self.model.parameters(), self.anchor))

    def update(self, new_x: torch.Tensor, new_y: torch.Tensor, should_stop=lambda: False, on_step=None) -> dict:
        """One round on the corrections `new_x/y` (uint8 images, labels), with the older
        ones and the parent's digits; returns the round's figures. The weights change
        only inside this call: a read() between updates sees whole rounds."""
        if len(new_y) == 0:
            raise ValueError("a round needs at least one correction")
        self._add_neighbours(new_x)
        self.taught_x = torch.cat([self.taught_x, new_x])
        self.taught_y = torch.cat([self.taught_y, new_y.long()])
        return self._round(len(new_y), should_stop, on_step)

    def rehearse(self, should_stop=lambda: False, on_step=None) -> dict:
        """One more round on everything taught (all of it counts as new): batch adaptation's later rounds."""
        return self._round(len(self.taught_y), should_stop, on_step)

    def _round(self, n_new: int, should_stop, on_step=None) -> dict:
        started = time.perf_counter()
        r = self.recipe
        loss_sum, correct, seen, steps = 0.0, 0, 0, 0
        _train_with_frozen_norm(self.model)
        for step in range(r.steps):
            if should_stop():
                break
            for group in self.opt.param_groups:
                group["lr"] = r.lr * 0.5 * (1 + math.cos(math.pi * step / r.steps))
            images, labels, n_mine = self._batch(n_new)
            x = training_batch(images, self.cfg, self.gen)
            scores = self.model(x)
            loss = self._loss(scores, x, labels, n_mine)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            loss_sum += loss.item()
            correct += int((scores[:n_mine].argmax(1) == labels[:n_mine]).sum())
            seen, steps = seen + n_mine, steps + 1
            if on_step is not None:
                on_step(step + 1, r.steps)
        self.model.eval()
        return {"steps": steps, "train_loss": loss_sum / max(1, steps), "train_acc": correct / max(1, seen),
                "taught": len(self.taught_y), "new": n_new, "seconds": time.perf_counter() - started}
