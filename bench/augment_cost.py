"""What each augmentation costs per training step, against the step itself, in one run.

For a preset's model and batch size, times (a) one optimisation step on a ready
batch (forward, backward, update) and (b) making a batch from uint8 images with
each augmentation alone and all together (the engine's `training_batch`, one
batched call), and prints each as a share of the step.

    python -m bench.augment_cost [--preset seed-cnn] [--batches 200] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from core.engine.config import from_preset
from core.engine.mnist import load_mnist
from core.engine.trainer import Trainer, resolve_device, training_batch

WARMUP = 20
SETTINGS = {
    "none": dict(augment=0.0),
    "affine (rotation, shift, scale) 1": dict(augment=1.0),
    "elastic 1": dict(augment=0.0, elastic=1.0),
    "thickness 1": dict(augment=0.0, thickness=1.0),
    "slant 15 deg": dict(augment=0.0, slant=15.0),
    "all four": dict(augment=1.0, elastic=1.0, thickness=1.0, slant=15.0),
}


def per_batch_ms(fn, batches: int) -> float:
    for _ in range(WARMUP):
        fn()
    started = time.perf_counter()
    for _ in range(batches):
        fn()
    return (time.perf_counter() - started) / batches * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed-cnn")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    cfg = from_preset(args.preset, device=args.device)
    images = load_mnist(cfg.data_dir).train_images[: cfg.batch_size * 64].to(device)
    gen = torch.Generator().manual_seed(0)
    trainer = Trainer(cfg, device, steps_per_epoch=args.batches)
    ready = training_batch(images[: cfg.batch_size], cfg, gen).contiguous(memory_format=trainer.memory_format)
    labels = torch.randint(0, 10, (cfg.batch_size,), device=device)
    step_ms = per_batch_ms(lambda: trainer.step(ready, labels), args.batches)
    print(f"{args.preset}: batch {cfg.batch_size}, device {device}, {torch.get_num_threads()} threads")
    print(f"{'one training step (forward, backward, update)':48s} {step_ms:8.2f} ms")
    baseline = None
    for label, overrides in SETTINGS.items():
        aug_cfg = dataclasses.replace(cfg, **overrides)
        i = iter(range(10**9))

        def make_batch():
            start = next(i) % 64 * cfg.batch_size
            training_batch(images[start : start + cfg.batch_size], aug_cfg, gen)

        ms = per_batch_ms(make_batch, args.batches)
        baseline = ms if baseline is None else baseline
        extra = ms - baseline
        print(f"{'batch with ' + label:48s} {ms:8.2f} ms   +{extra:6.2f} ms = {extra / step_ms:6.1%} of a step")


if __name__ == "__main__":
    main()
