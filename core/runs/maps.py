"""A run's maps of what its last layer makes of the test digits, one per kept epoch,
kept in the run folder (`maps/<method>-<samples>-s<seed>-a<anchor>/epoch-NNN.npz`, or
`model-<sha12>.npz` for weights without epochs) so a map is made once and opens at once.

The maps are aligned along the epochs: the anchor (the epoch in model.pt, else the last
kept) is fitted first, and each other epoch's map starts from its neighbour's on the way
out from it, and is turned to match it. So dragging the epoch slider shows the clusters
forming rather than the picture jumping, and the first map asked for (the slider starts
at model.pt's epoch) costs one fit: an epoch further away makes the missing ones between,
in order. No map is fitted with a label: the classes and the answers only colour it."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from core.engine.datasets import TestSet
from core.engine.features import features_and_scores, last_linear, stratified_sample
from core.engine.projection import MapSettings, project
from core.runs.checkpoint import CheckpointError, load_model, read_checkpoint
from core.runs.files import write_bytes_atomic
from core.runs.snapshots import list_snapshots, snapshot_path

MAP_SAMPLES = 5000
MAP_SEED = 0
MAPS_DIR = "maps"
# (done, total, what): what the progress bar says while maps are made.
Progress = Callable[[int, int, str], None]


@dataclass
class DigitMap:
    """Where each sampled test digit lands, and what the model answered for it."""

    indices: np.ndarray  # [N] into the test set
    labels: np.ndarray  # [N] true classes
    answers: np.ndarray  # [N] the model's
    confidence: np.ndarray  # [N] its probability for its answer
    layout: np.ndarray  # [N, 2]
    settings: MapSettings
    dataset: str
    layer: str  # which features: "the 256 inputs of the last linear layer"
    weights_sha256: str
    epoch: int | None = None
    features: np.ndarray | None = None  # [N, D], only when made in this process (not kept)

    @property
    def samples(self) -> int:
        return len(self.indices)

    def describe(self) -> str:
        when = f"epoch {self.epoch}" if self.epoch is not None else "the model's weights"
        return (f"{self.samples:,} {self.dataset.upper()} test digits (a stratified sample, seed {MAP_SEED}"
                f"{'' if self.samples < 10_000 else '; all of them'}), {self.layer}, at {when}; "
                f"{self.settings.describe()}. The model never trained on these digits; "
                "the map is fitted on their features alone, without their labels.")


def maps_folder(run_dir: Path, settings: MapSettings, samples: int) -> Path:
    return run_dir / MAPS_DIR / f"{settings.method}-{samples}-s{settings.seed}"


def anchor_epoch(run_dir: Path, kept: list[int]) -> int:
    """The epoch the run's maps are aligned from: model.pt's when the run kept it, else
    its last kept (a run still training: its anchor, and so its maps, change as it goes)."""
    try:
        epoch = read_checkpoint(run_dir / "model.pt").get("epoch")
    except (CheckpointError, OSError):
        epoch = None
    return epoch if isinstance(epoch, int) and epoch in kept else kept[-1]


def epoch_map_path(run_dir: Path, epoch: int, settings: MapSettings, samples: int, anchor: int) -> Path:
    folder = maps_folder(run_dir, settings, samples)
    return folder.with_name(f"{folder.name}-a{anchor:03d}") / f"epoch-{epoch:03d}.npz"


def model_map_path(run_dir: Path, sha256: str, settings: MapSettings, samples: int) -> Path:
    return maps_folder(run_dir, settings, samples) / f"model-{sha256[:12]}.npz"


def sample_indices(test: TestSet, samples: int) -> np.ndarray:
    return stratified_sample(test.labels, samples, MAP_SEED)


def read_map(path: Path, settings: MapSettings) -> DigitMap | None:
    """A kept map, or None when there is none or it is damaged (it is then made again)."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            meta = json.loads(str(kept["meta"]))
            arrays = {k: kept[k] for k in ("indices", "labels", "answers", "confidence", "layout")}
        n = len(arrays["indices"])
        if arrays["layout"].shape != (n, 2) or any(len(a) != n for a in arrays.values()) or \
                MapSettings(**meta["settings"]) != settings:
            return None
        return DigitMap(**arrays, settings=settings, dataset=meta["dataset"], layer=meta["layer"],
                        weights_sha256=meta["weights_sha256"], epoch=meta["epoch"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


def write_map(path: Path, digit_map: DigitMap) -> None:
    meta = {"settings": digit_map.settings.record(), "dataset": digit_map.dataset, "layer": digit_map.layer,
            "weights_sha256": digit_map.weights_sha256, "epoch": digit_map.epoch}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), indices=digit_map.indices, labels=digit_map.labels,
             answers=digit_map.answers, confidence=digit_map.confidence, layout=digit_map.layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())


def layer_name(model: nn.Module) -> str:
    return f"the {last_linear(model).in_features} inputs of the last linear layer"


def make_map(model: nn.Module, sha256: str, test: TestSet, indices: np.ndarray, settings: MapSettings,
             start: np.ndarray | None = None, epoch: int | None = None) -> DigitMap:
    """The map of `model` on the test digits at `indices`, started from `start` if given."""
    features, scores = features_and_scores(model, test.images[torch.as_tensor(indices)])
    probs, features = scores.softmax(1), features.numpy()  # as Draw's prediction computes them
    return DigitMap(indices=indices, labels=test.labels[torch.as_tensor(indices)].numpy(),
                    answers=probs.argmax(1).numpy(), confidence=probs.max(1).values.numpy().astype(np.float32),
                    layout=project(features, settings, start), settings=settings, dataset=test.dataset,
                    layer=layer_name(model), weights_sha256=sha256, epoch=epoch, features=features)


def epoch_map(run_dir: Path, epoch: int, test: TestSet, settings: MapSettings,
              samples: int = MAP_SAMPLES, progress: Progress | None = None) -> DigitMap:
    """Epoch `epoch`'s kept map, else made now, with the missing ones between it and the
    anchor (each starts from its neighbour's, nearer the anchor)."""
    kept = list_snapshots(run_dir)
    if epoch not in kept:
        raise FileNotFoundError(f"the run kept no weights of epoch {epoch}")
    anchor = anchor_epoch(run_dir, kept)
    # The kept epochs from the anchor out to `epoch`, in the order their maps are made.
    way = [e for e in kept if anchor <= e <= epoch] if epoch >= anchor else \
        [e for e in reversed(kept) if epoch <= e <= anchor]
    previous, todo = None, way
    for i in range(len(way) - 1, -1, -1):  # the map furthest along the way already kept
        found = read_map(epoch_map_path(run_dir, way[i], settings, samples, anchor), settings)
        if found is not None:
            previous, todo = found, way[i + 1:]
            break
    indices = sample_indices(test, samples)
    for done, e in enumerate(todo):
        if progress is not None:
            progress(done, len(todo), f"Making the map of epoch {e} ({done + 1} of {len(todo)})")
        model, _, ckpt = load_model(snapshot_path(run_dir, e))
        previous = make_map(model, ckpt["sha256"], test, indices, settings,
                            start=None if previous is None else previous.layout, epoch=e)
        write_map(epoch_map_path(run_dir, e, settings, samples, anchor), previous)
    if progress is not None and todo:
        progress(len(todo), len(todo), "Map ready")
    return previous


def model_map(model_file: Path, test: TestSet, settings: MapSettings, samples: int = MAP_SAMPLES,
              start: DigitMap | None = None, progress: Progress | None = None) -> DigitMap:
    """The map of the weights in `model_file` (a run's model.pt): its epoch's map when the
    run kept that epoch, else one of its own, started from `start` (a parent's map)."""
    run_dir = model_file.parent
    model, _, ckpt = load_model(model_file)
    epoch = ckpt.get("epoch")
    if isinstance(epoch, int) and epoch in list_snapshots(run_dir) and \
            _same_weights(model, load_model(snapshot_path(run_dir, epoch))[0]):
        return epoch_map(run_dir, epoch, test, settings, samples, progress)
    path = model_map_path(run_dir, ckpt["sha256"], settings, samples)
    found = read_map(path, settings)
    if found is not None:
        return found
    if progress is not None:
        progress(0, 1, "Making the model's map")
    made = make_map(model, ckpt["sha256"], test, sample_indices(test, samples), settings,
                    start=None if start is None else start.layout)
    write_map(path, made)
    if progress is not None:
        progress(1, 1, "Map ready")
    return made


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    # The files differ (model.pt records more), the tensors need not.
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


NEIGHBOUR_POOL = 10_000


def neighbour_pool(cfg, count: int = NEIGHBOUR_POOL) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of `count` of the digits the run trained on (its training split,
    never its validation or test digits), stratified: where a drawing's neighbours come from."""
    from core.engine.data import split
    from core.engine.datasets import load_digits

    data = split(load_digits(cfg.dataset, cfg.data_dir, side=cfg.input_side()), cfg.resolved_val_size(),
                 cfg.train_limit)
    chosen = torch.as_tensor(stratified_sample(data.train_y, count, MAP_SEED))
    return data.train_x[chosen], data.train_y[chosen]
