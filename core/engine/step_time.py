"""How long a run will take on this machine, from a real training step measured now.

A step is the engine's own `Trainer.step` on a `training_batch` of random digits,
so the model, optimizer, weight average and augmentation all count; the scoring
after each epoch (validation, test and training digits) and the final report are
forward passes, timed apart per image. What the machine does meanwhile (another
run training) slows the measurement as it will slow the run.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from core.engine.config import TrainConfig
from core.engine.data import normalize
from core.engine.datasets import OTHER
from core.engine.model_size import activations_per_image
from core.engine.options import TRAIN_SIZES
from core.engine.scoring import TTA_SHIFTS
from core.engine.trainer import TRAIN_EVAL_SIZE, Trainer, resolve_device, training_batch

TEST_SIZES = {"mnist": 10_000, "usps": 2_007}  # the published test sets
# The pace is the median of at least STEPS timed steps, unless BUDGET_SECONDS (warm-up
# included) runs out first: on a busy machine a large step can take a second. Steps of a
# few milliseconds (batch 1) go on for MIN_SECONDS, up to MAX_STEPS, as one preempted
# step in five would otherwise move the median.
STEPS = 5
BUDGET_SECONDS = 1.0
MIN_SECONDS = 0.2
MAX_STEPS = 100
EVAL_SAMPLE = 256  # digits in the timed forward pass: large enough to be batched as scoring is
# The largest batch a preview times for real (the app computes it inside the server, for
# whoever edits the form): a step of the widest model at 512 digits needs about 0.5 GB
# and a second on 2 cores. A larger batch is timed at 512 and scaled by its size (a
# step's work grows linearly with the batch), and the estimate says so.
MAX_TIMED_BATCH = 512
# And at most this many activation values in the timed batch (128 MB a copy): the widest
# layers validation allows are timed on 16 digits, not 512.
MAX_TIMED_VALUES = 32_000_000
# Settings that change what one step computes; the rest (lr, epochs, seed, ...) do not.
STEP_TIME_FIELDS = ("model", "dataset", "widths", "kernel_size", "padding", "hidden", "activation", "pooling",
                    "pool_first", "dropout", "batchnorm", "optimizer", "momentum", "nesterov", "batch_size", "loss",
                    "ema", "augment", "elastic", "thickness", "slant", "device")


@dataclass(frozen=True)
class Measured:
    step_seconds: float  # one training step of a batch
    eval_seconds_per_image: float  # one forward pass in eval mode, per digit


@dataclass(frozen=True)
class Estimate:
    step_seconds: float
    steps_per_epoch: int
    epochs: int
    scoring_seconds_per_epoch: float  # validation + test + training digits, after every epoch
    report_seconds: float  # the final reports (the other test set; both under TTA)

    @property
    def training_seconds(self) -> float:
        return self.step_seconds * self.steps_per_epoch * self.epochs

    @property
    def scoring_seconds(self) -> float:
        return self.scoring_seconds_per_epoch * self.epochs + self.report_seconds

    @property
    def total_seconds(self) -> float:
        return self.training_seconds + self.scoring_seconds


def step_time_key(cfg: TrainConfig) -> tuple:
    """The settings a measurement depends on: a cache key for it."""
    return tuple((name, getattr(cfg, name)) for name in STEP_TIME_FIELDS)


def _random_digits(cfg: TrainConfig, n: int, gen: torch.Generator) -> torch.Tensor:
    side = cfg.input_side()
    return torch.randint(0, 256, (n, side, side), dtype=torch.uint8, generator=gen)


def _timed(fn, device: torch.device) -> float:
    started = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


@contextmanager
def _trainer(cfg: TrainConfig) -> Iterator[Trainer]:
    """A Trainer of `cfg` that leaves the process as it found it: it draws its weights
    from torch's global generator, which is put back afterwards. It times on the threads
    the process has (never changed here: the dashboard's sessions share them)."""
    with torch.random.fork_rng(devices=[]):
        # A schedule long enough for every step timed (OneCycle refuses to go past its end).
        yield Trainer(cfg, resolve_device(cfg.device), steps_per_epoch=1 + MAX_STEPS)


def _within_values(cfg: TrainConfig, digits: int) -> int:
    """`digits`, fewer if their activations would pass MAX_TIMED_VALUES (at least one)."""
    return max(1, min(digits, MAX_TIMED_VALUES // activations_per_image(cfg)))


def timed_batch(cfg: TrainConfig) -> int:
    """The digits a preview's timed step uses: the run's batch, within the preview's bounds."""
    return _within_values(cfg, min(cfg.batch_size, MAX_TIMED_BATCH))


def _step_seconds(trainer: Trainer, steps: int) -> float:
    cfg, device = trainer.cfg, trainer.device
    timed = timed_batch(cfg)
    gen = torch.Generator().manual_seed(0)
    digits = _random_digits(cfg, timed, gen).to(device)
    labels = torch.randint(0, 10, (timed,), generator=gen).to(device)

    def step():
        x = training_batch(digits, cfg, trainer.gen).contiguous(memory_format=trainer.memory_format)
        trainer.step(x, labels)

    trainer.model.train()
    started = time.perf_counter()
    _timed(step, device)  # warm-up: the first step allocates the optimizer's state
    times: list[float] = []
    while True:
        times.append(_timed(step, device))
        elapsed = time.perf_counter() - started
        if elapsed > BUDGET_SECONDS or len(times) >= MAX_STEPS or (len(times) >= steps and elapsed > MIN_SECONDS):
            return statistics.median(times) * cfg.batch_size / timed


@torch.inference_mode()
def _eval_seconds_per_image(trainer: Trainer, images: int) -> float:
    model, device = trainer.scored_model.eval(), trainer.device
    x = normalize(_random_digits(trainer.cfg, images, torch.Generator().manual_seed(1)).to(device))
    model(x[:8])  # warm-up
    return _timed(lambda: model(x), device) / images


def measure(cfg: TrainConfig, steps: int = STEPS) -> Measured:
    """Both paces of `cfg`, from one model."""
    with _trainer(cfg) as trainer:
        step = _step_seconds(trainer, steps)
        return Measured(step, _eval_seconds_per_image(trainer, _within_values(cfg, EVAL_SAMPLE)))


def estimate_run_seconds(cfg: TrainConfig, measured: Measured) -> Estimate:
    """The run's time: its steps at the measured pace, plus its forward passes."""
    val_size = cfg.resolved_val_size()
    train_size = cfg.train_limit or TRAIN_SIZES[cfg.dataset] - val_size
    test_size = TEST_SIZES[cfg.dataset]
    scored_per_epoch = val_size + test_size + min(TRAIN_EVAL_SIZE, train_size)
    # At the end: the other dataset's test set with model.pt (its own test set's scores are
    # the loop's), and under test-time augmentation its own again, five passes each.
    passes = len(TTA_SHIFTS) if cfg.tta else 1
    reported = (TEST_SIZES[OTHER[cfg.dataset]] + (test_size if cfg.tta else 0)) * passes
    return Estimate(
        step_seconds=measured.step_seconds,
        steps_per_epoch=max(1, train_size // cfg.batch_size),  # as fit() counts them: the ragged tail dropped
        epochs=cfg.epochs,
        scoring_seconds_per_epoch=scored_per_epoch * measured.eval_seconds_per_image,
        report_seconds=reported * measured.eval_seconds_per_image,
    )
