"""`python -m core.embed --run RUN [--epoch N] [--method umap|tsne|pca] [--samples N] --out FILE
[--tensorboard DIR]`: a run's map of its test digits (core.runs.maps), written as CSV
(index, x, y, label, answer, confidence) or .npz (those and the features), and for
TensorBoard's projector (the features, a sprite of the digits, their labels and answers)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import torch

from core.engine.data import DataError
from core.engine.datasets import load_test_set
from core.engine.features import features_and_scores
from core.engine.projection import METHODS, MapSettings, MethodMissing
from core.runs.checkpoint import CheckpointError, load_model
from core.runs.command_line import OneLineParser, fail
from core.runs.maps import MAP_SAMPLES, DigitMap, epoch_map, model_map
from core.runs.snapshots import list_snapshots, snapshot_path
from core.runs.store import DEFAULT_MODEL_DIR

PROG = "python -m core.embed"


def _samples(text: str) -> int:
    if text == "all":
        return 10**9  # every test digit
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"--samples takes a whole number or 'all', not {text!r}") from None
    if value < 20:
        raise ValueError(f"--samples must be at least 20 (got {value})")
    return value


def write_table(path: Path, digit_map: DigitMap, features: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npz":
        np.savez_compressed(path, index=digit_map.indices, x=digit_map.layout[:, 0], y=digit_map.layout[:, 1],
                            label=digit_map.labels, answer=digit_map.answers, confidence=digit_map.confidence,
                            features=features)
        return
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["index", "x", "y", "label", "answer", "confidence"])
        for i, (x, y), label, answer, conf in zip(digit_map.indices, digit_map.layout, digit_map.labels,
                                                  digit_map.answers, digit_map.confidence):
            out.writerow([int(i), f"{x:.5f}", f"{y:.5f}", int(label), int(answer), f"{conf:.5f}"])


def write_projector(log_dir: Path, digit_map: DigitMap, features: np.ndarray, images: torch.Tensor, tag: str) -> None:
    """TensorBoard's writer makes the projector's files: tensors.tsv, metadata.tsv,
    sprite.png and projector_config.pbtxt naming them."""
    from torch.utils.tensorboard import SummaryWriter

    metadata = [[int(label), int(answer), f"{conf:.3f}", "right" if label == answer else "misread"]
                for label, answer, conf in zip(digit_map.labels, digit_map.answers, digit_map.confidence)]
    with SummaryWriter(str(log_dir)) as writer:
        writer.add_embedding(torch.from_numpy(features), metadata=metadata,
                             metadata_header=["label", "answer", "confidence", "read"],
                             label_img=images.unsqueeze(1).float() / 255, tag=tag)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description="Map what a run's last layer makes of its test digits.")
    parser.add_argument("--run", default=str(DEFAULT_MODEL_DIR), help="run directory (default: the default model)")
    parser.add_argument("--epoch", type=int, help="a kept epoch (default: the weights in model.pt)")
    parser.add_argument("--method", choices=sorted(METHODS), default="umap")
    parser.add_argument("--samples", default=str(MAP_SAMPLES),
                        help=f"test digits, stratified (default {MAP_SAMPLES}; 'all')")
    parser.add_argument("--seed", type=int, default=0, help="the method's seed (UMAP, t-SNE)")
    parser.add_argument("--out", type=Path, help="FILE.csv or FILE.npz")
    parser.add_argument("--tensorboard", type=Path, metavar="DIR", help="write the projector's files under DIR")
    args = parser.parse_args(argv)
    if args.out is None and args.tensorboard is None:
        parser.error("give --out FILE (.csv or .npz), --tensorboard DIR, or both")
    if args.out is not None and args.out.suffix not in (".csv", ".npz"):
        parser.error(f"--out must end in .csv or .npz, not {args.out.name!r}")
    try:
        samples = _samples(args.samples)
        run_dir = Path(args.run)
        weights = run_dir / "model.pt" if args.epoch is None else snapshot_path(run_dir, args.epoch)
        if args.epoch is not None and args.epoch not in list_snapshots(run_dir):
            raise ValueError(f"{run_dir} kept no weights of epoch {args.epoch} "
                             f"(kept: {', '.join(map(str, list_snapshots(run_dir))) or 'none'})")
        model, cfg, _ = load_model(weights)
        test = load_test_set(cfg.dataset, cfg.data_dir, side=cfg.input_side())
        samples = min(samples, len(test.labels))
        settings = MapSettings(args.method, seed=args.seed)
    except (CheckpointError, DataError, ValueError) as e:
        fail(f"{PROG}: {e}")
    bar = _progress_bar()
    try:
        digit_map = (model_map(weights, test, settings, samples, progress=bar) if args.epoch is None
                     else epoch_map(run_dir, args.epoch, test, settings, samples, progress=bar))
    except (MethodMissing, CheckpointError) as e:
        fail(f"{PROG}: {e}")
    images = test.images[torch.as_tensor(digit_map.indices)]
    features = features_and_scores(model, images)[0].numpy()
    if args.out is not None:
        write_table(args.out, digit_map, features)
        print(f"{args.out}: {digit_map.samples:,} digits")
    if args.tensorboard is not None:
        tag = f"{run_dir.name} epoch {digit_map.epoch}" if digit_map.epoch is not None else run_dir.name
        write_projector(args.tensorboard, digit_map, features, images, tag)
        print(f"{args.tensorboard}: open with `tensorboard --logdir {args.tensorboard}`, then PROJECTOR")
    print(digit_map.describe())
    return 0


def _progress_bar():
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int, what: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="map", file=sys.stderr)
        bar.set_description(what)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return progress


if __name__ == "__main__":
    sys.exit(main())
