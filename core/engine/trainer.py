"""The training loop: in-memory uint8 batches, batched augmentation on the
device, one metrics row per epoch, the best epoch chosen by validation alone.

It writes no files and knows nothing of processes: what it has to say goes out
through `Hooks`, and core.runs.run_process turns that into a run directory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from core.engine import optimizers
from core.engine.augment import Augmentation, augment
from core.engine.config import TrainConfig
from core.engine.data import MNIST_MEAN, MNIST_STD, Splits
from core.engine.models import build_model
from core.engine.scoring import SCORING_THREADS, loss_and_accuracy, loss_fn, predict_scores, score, using_threads

SMALL_BATCH = 32
# After each epoch the weights are also scored on up to this many training digits,
# in eval mode: the training error of the 1989 paper's figure (all 7,291 of USPS).
TRAIN_EVAL_SIZE = 10_000


class Cancelled(Exception):
    """Raised inside the loop when the caller asked to stop."""


@dataclass
class Hooks:
    """What the loop tells the outside world; every hook is optional."""

    # running: (mean train loss, train accuracy) so far this epoch, or None when not measured
    on_batch: Callable[[int, int, int, tuple | None], None] = lambda epoch, batch, n_batches, running: None
    on_epoch: Callable[[dict], None] = lambda row: None
    # a new best validation accuracy: (epoch, val_acc, the weights to keep); without
    # a validation set (val_acc None) every epoch's weights replace the last
    on_best: Callable[[int, float, nn.Module], None] = lambda epoch, val_acc, model: None
    # the test-set scores of an epoch's weights, computed once: its reports reuse them
    on_test_scores: Callable[[int, torch.Tensor], None] = lambda epoch, scores: None
    # the weights after each epoch (the ones scored), and epoch 0's: the initialisation
    on_weights: Callable[[int, nn.Module], None] = lambda epoch, model: None
    should_stop: Callable[[], bool] = lambda: False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return optimizers.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                              nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=cfg.weight_decay)
    return optimizers.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled=cfg.optimizer == "adamw")


def make_scheduler(opt, cfg: TrainConfig, steps_per_epoch: int):
    """Returns (scheduler or None, whether it steps per batch rather than per epoch)."""
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), False
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps_per_epoch), True
    if cfg.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch), True
    return None, False


def training_batch(images_uint8: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """uint8 [B, H, W] on the device -> augmented, normalized [B, 1, H, W]."""
    x = images_uint8.unsqueeze(1).float().div_(255.0)
    x = augment(x, Augmentation.of(cfg), gen)
    return x.sub_(MNIST_MEAN).div_(MNIST_STD)


@dataclass
class TrainResult:
    rows: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = -1.0


def training_threads(cfg: TrainConfig, device: torch.device) -> int:
    """torch's intra-op threads for training `cfg`: one for tiny per-step work, where a
    second thread costs more in hand-offs than it saves (measured 3 ms/step on one thread,
    30 ms on two, for lenet1989); else all torch started with."""
    return 1 if device.type == "cpu" and cfg.batch_size < SMALL_BATCH else SCORING_THREADS


class Trainer:
    """The model with its optimizer, schedule, loss and weight average; one
    `train_epoch` call is one pass over the training tensors."""

    def __init__(self, cfg: TrainConfig, device: torch.device, steps_per_epoch: int):
        self.cfg, self.device = cfg, device
        self.memory_format = torch.channels_last if cfg.model == "cnn" else torch.contiguous_format
        self.model = build_model(cfg).to(device, memory_format=self.memory_format)
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
                    if cfg.ema else None)
        self.opt = make_optimizer(self.model, cfg)
        self.sched, self.per_batch = make_scheduler(self.opt, cfg, steps_per_epoch)
        self.criterion = loss_fn(cfg.loss, cfg.label_smoothing)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        # Fine-tuning keeps the parent's batch-norm statistics (its batches are not MNIST's mix).
        self.frozen_norm = False

    @property
    def scored_model(self) -> nn.Module:
        """The weights to evaluate and keep: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step on a ready batch; returns (loss, scores)."""
        scores = self.model(x)
        loss = self.criterion(scores, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        if self.per_batch:
            self.sched.step()
        return loss.detach(), scores.detach()

    def train_epoch(self, train_x: torch.Tensor, train_y: torch.Tensor, epoch: int = 1,
                    hooks: Hooks | None = None) -> tuple[float, float]:
        """Shuffle, augment per batch, step; returns (mean train loss, train accuracy).
        The ragged tail is dropped (it is reshuffled into the next epoch)."""
        hooks, bs = hooks or Hooks(), self.cfg.batch_size
        n_batches = max(1, len(train_x) // bs)
        self.model.train()
        if self.frozen_norm:
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        order = torch.randperm(len(train_x), generator=self.gen).to(self.device)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for b in range(n_batches):
            if hooks.should_stop():
                raise Cancelled()
            idx = order[b * bs : (b + 1) * bs]
            x = training_batch(train_x[idx], self.cfg, self.gen).contiguous(memory_format=self.memory_format)
            y = train_y[idx]
            loss, scores = self.step(x, y)
            loss_sum += loss * len(y)
            correct += (scores.argmax(1) == y).sum()
            # The running means cost a sync, so they are read only now and then.
            if b % 20 == 0 or b == n_batches - 1:
                seen = (b + 1) * bs
                hooks.on_batch(epoch, b + 1, n_batches, (loss_sum.item() / seen, correct.item() / seen))
            else:
                hooks.on_batch(epoch, b + 1, n_batches, None)
        if self.sched is not None and not self.per_batch:
            self.sched.step()
        seen = n_batches * bs
        return loss_sum.item() / seen, correct.item() / seen


def fit(cfg: TrainConfig, data: Splits, hooks: Hooks | None = None) -> TrainResult:
    """Train `cfg` on `data`, epoch by epoch, telling `hooks` as it goes."""
    hooks = hooks or Hooks()
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    # Every set on the device once: no copies per batch or per epoch.
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    val_x, test_x = data.val_x.to(device), data.test_x.to(device)
    # A run owns its process (a child, a Ray worker): its thread count is set here, once,
    # and never from code that shares a process with other threads (the dashboard's).
    torch.set_num_threads(training_threads(cfg, device))
    trainer = Trainer(cfg, device, steps_per_epoch=max(1, len(train_x) // cfg.batch_size))
    result = TrainResult()

    # Without a validation set nothing is selected: every epoch replaces the last.
    selecting = len(data.val_y) > 0
    hooks.on_weights(0, trainer.scored_model)
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        lr = trainer.opt.param_groups[0]["lr"]
        train_loss, train_acc = trainer.train_epoch(train_x, train_y, epoch, hooks)
        scored, scoring_started = trainer.scored_model, time.perf_counter()
        # Scoring's batches are big enough for every core, even in a run that trains on one.
        with using_threads(SCORING_THREADS):
            val_loss, val_acc = (score(scored, val_x, data.val_y, device, cfg.loss) if selecting
                                 else (math.nan, math.nan))
            test_scores = predict_scores(scored, test_x, device)
            fit_loss, fit_acc = score(scored, train_x[:TRAIN_EVAL_SIZE], train_y[:TRAIN_EVAL_SIZE], device, cfg.loss)
        hooks.on_test_scores(epoch, test_scores)
        test_loss, test_acc = loss_and_accuracy(test_scores, data.test_y, cfg.loss)
        row = {
            "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc,
            "lr": lr, "epoch_seconds": time.perf_counter() - started,
            "train_eval_loss": fit_loss, "train_eval_acc": fit_acc,
            "scoring_seconds": time.perf_counter() - scoring_started,
        }
        result.rows.append(row)
        hooks.on_epoch(row)
        # Only validation picks the best epoch; the test set is only reported.
        if not selecting or val_acc > result.best_val_acc:
            result.best_epoch, result.best_val_acc = epoch, val_acc
            hooks.on_best(epoch, val_acc if selecting else None, scored)
        hooks.on_weights(epoch, scored)

    return result

