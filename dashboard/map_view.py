"""The map of what a model's last layer makes of the test digits (core.runs.maps) on a
page: made once with a progress bar, then read; a click shows a digit and its nearest
neighbours; a handwriting set or a drawing placed on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch

from core.engine.datasets import TestSet
from core.engine.features import features_and_scores
from core.engine.handwriting import HandwritingDataError
from core.engine.projection import METHODS, MapSettings, align, nearest, place
from core.runs.checkpoint import CheckpointError
from core.runs.maps import MAP_SAMPLES, DigitMap, epoch_map, model_map, neighbour_pool
from core.runs.snapshots import snapshot_path
from dashboard import cached
from dashboard.map_figures import MANY_MISREAD, map_figure
from dashboard.widgets import PickedModel, upscale

NEIGHBOURS = 8
SAMPLE_CHOICES = {MAP_SAMPLES: f"{MAP_SAMPLES:,} (stratified)", 10_000: "all 10,000"}


def settings_controls(key: str) -> tuple[MapSettings, int]:
    method_col, samples_col = st.columns(2)
    method = method_col.radio("Method", list(METHODS), format_func=METHODS.get, horizontal=True, key=f"{key}_method",
                              help="UMAP keeps both clusters and their neighbourhoods; t-SNE separates clusters "
                                   "most sharply (distances between them mean little); PCA is linear and instant.")
    samples = samples_col.radio("Test digits", list(SAMPLE_CHOICES), format_func=SAMPLE_CHOICES.get,
                                horizontal=True, key=f"{key}_samples")
    return MapSettings(method), samples


def _weights(picked: PickedModel) -> tuple[Path, int | None]:
    """(the run folder, the epoch) when the picked weights are one of its kept epochs."""
    if picked.path.parent.name == "epochs":
        run_dir = picked.path.parent.parent
        epoch = picked.checkpoint.get("epoch")
        if isinstance(epoch, int) and snapshot_path(run_dir, epoch) == picked.path:
            return run_dir, epoch
    return picked.path.parent, None


def test_digits(picked: PickedModel) -> TestSet | None:
    images, labels, error = cached.test_set(picked.cfg.dataset, picked.cfg.input_side())
    if images is None:
        st.warning(f"No map: {error}")
        return None
    return TestSet(picked.cfg.dataset, images, labels)


def digit_map(picked: PickedModel, settings: MapSettings, samples: int, make: bool = True,
              start: DigitMap | None = None) -> DigitMap | None:
    """The picked weights' map: read when kept, else made now with a progress bar (or,
    with `make` False, None)."""
    test = test_digits(picked)
    if test is None:
        return None
    samples = min(samples, len(test.labels))
    run_dir, epoch = _weights(picked)
    bar = None

    def progress(done: int, total: int, what: str) -> None:
        nonlocal bar
        if not make:
            raise _NotKept()
        bar = bar or st.progress(0.0, text=what)
        bar.progress(done / max(total, 1), text=what)

    try:
        made = (epoch_map(run_dir, epoch, test, settings, samples, progress) if epoch is not None
                else model_map(picked.path, test, settings, samples, start=start, progress=progress))
    except _NotKept:
        return None
    except (OSError, CheckpointError, ValueError, ImportError) as e:
        st.error(f"Could not make the map: {e}")
        return None
    if bar is not None:
        bar.empty()
    return made


class _NotKept(Exception):
    pass


@st.cache_resource(max_entries=8, show_spinner="Reading the map's digits through the model...")
def _map_features(weights: str, mtime: float, dataset: str, side: int, indices_key: bytes) -> np.ndarray:
    model, _, _ = cached.get_model(Path(weights))
    images, _, _ = cached.test_set(dataset, side)
    indices = torch.from_numpy(np.frombuffer(indices_key, dtype=np.int64).copy())
    return features_and_scores(model, images[indices])[0].numpy()


def map_features(picked: PickedModel, made: DigitMap) -> np.ndarray:
    """The features of the map's digits under the picked weights (in memory, not kept)."""
    if made.features is not None:
        return made.features
    return _map_features(str(picked.path), picked.path.stat().st_mtime, made.dataset, picked.cfg.input_side(),
                         made.indices.astype(np.int64).tobytes())


@st.cache_resource(max_entries=4, show_spinner="Reading 10,000 of the training digits through the model (once)...")
def _pool(weights: str, mtime: float):
    model, cfg, _ = cached.get_model(Path(weights))
    images, labels = neighbour_pool(cfg)
    return images, labels.numpy(), features_and_scores(model, images)[0].numpy()


def training_neighbours(picked: PickedModel, features: np.ndarray, k: int = NEIGHBOURS):
    """(images, labels) of the `k` training digits nearest each feature row, nearest first."""
    images, labels, pool = _pool(str(picked.path), picked.path.stat().st_mtime)
    index, _ = nearest(features, pool, k)
    return images[torch.from_numpy(index[0])], labels[index[0]]


def show(picked: PickedModel, made: DigitMap, key: str, layout: np.ndarray | None = None,
         overlay: dict | None = None, drawing: dict | None = None, height: int = 560) -> None:
    """The map, what it shows, and the digit a click picks with its nearest neighbours."""
    misread = int((made.answers != made.labels).sum())
    event = st.plotly_chart(map_figure(made, layout, overlay=overlay, drawing=drawing, height=height),
                            key=f"{key}_chart", on_select="rerun", selection_mode="points", config={"scrollZoom": True})
    ringed = "ringed" if misread <= MANY_MISREAD * made.samples else "click “misread” in the legend to ring them"
    st.caption(f"{made.describe()} {misread:,} of them misread ({ringed}). Weights sha256 {made.weights_sha256[:12]}.")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    rows = [row for row in map(_clicked_row, points) if row is not None and 0 <= row < made.samples]
    if rows:
        clicked(picked, made, rows[0])
    else:
        st.caption("Click a digit on the map to see it beside its nearest neighbours in the model's feature space.")


def _clicked_row(point: dict) -> int | None:
    """The map row a clicked test digit carries (customdata[0]); None for the drawing, a
    handwriting sample or a point without it. Plotly's customdata comes back as a list
    or as {"0": ..., "1": ...}."""
    data = point.get("customdata") if isinstance(point, dict) else None
    if isinstance(data, dict):
        data = [data.get(str(i)) for i in range(len(data))]
    if not isinstance(data, list) or len(data) != 4 or not isinstance(data[0], (int, float)):
        return None
    return int(data[0])


def _thumbnails(images, captions: list[str]) -> None:
    st.image([upscale(np.asarray(image), 3) for image in images], caption=captions, width=64)


def clicked(picked: PickedModel, made: DigitMap, row: int) -> None:
    images, _, _ = cached.test_set(made.dataset, picked.cfg.input_side())
    features = map_features(picked, made)
    index, _ = nearest(features[row:row + 1], features, NEIGHBOURS + 1)
    near = [i for i in index[0] if i != row][:NEIGHBOURS]
    digit = int(made.indices[row])
    st.markdown(f"**Test digit {digit}**: true {made.labels[row]}, read {made.answers[row]} "
                f"({made.confidence[row]:.0%}), and its {NEIGHBOURS} nearest among the map's digits "
                "in the model's feature space:")
    _thumbnails([images[digit]] + [images[int(made.indices[i])] for i in near],
                ["this one"] + [f"{made.labels[i]} read {made.answers[i]}" for i in near])


def aligned(made: DigitMap, reference: DigitMap | None) -> np.ndarray | None:
    """`made`'s layout turned onto `reference`'s where both show the same digits."""
    if reference is None or not np.array_equal(made.indices, reference.indices):
        return None
    return align(made.layout, reference.layout)


def set_overlay(picked: PickedModel, made: DigitMap, layout: np.ndarray | None, hw) -> dict | None:
    """A handwriting set's digits at their places on the map, with their true labels."""
    from dashboard.handwriting_view import set_digits

    try:
        digits = set_digits(str(hw.path), picked.cfg.input_side(), hw.content_hash())
    except HandwritingDataError as e:
        st.warning(f"Cannot lay {hw.name!r} over the map: {e}")
        return None
    features, scores = features_and_scores(picked.model, digits.images)
    xy = place(features.numpy(), map_features(picked, made), made.layout if layout is None else layout)
    answers = scores.argmax(1).numpy()
    wrong = int((answers != digits.labels.numpy()).sum())
    st.caption(f"{hw.name!r}: {len(digits.files)} of your digits (diamonds, in their true class's colour, "
               f"each at the mean place of its 8 nearest map digits); {wrong} misread by these weights.")
    return {"xy": xy, "labels": digits.labels.numpy(), "answers": answers, "names": digits.files}


def drawing_on_map(picked: PickedModel, prediction, settings: MapSettings) -> None:
    """Draw's map: where the drawing lands among the test digits under the picked weights,
    and its nearest training digits. Made only when asked: it takes seconds, once."""
    made = digit_map(picked, settings, MAP_SAMPLES, make=False)
    if made is None:
        st.caption(f"{picked.label} has no {METHODS[settings.method]} map yet: about 10 s to make, once, "
                   "then it opens at once here and on the Map page.")
        if not st.button("Make its map", key="draw_map_make"):
            return
        made = digit_map(picked, settings, MAP_SAMPLES)
        if made is None:
            return
    if prediction is None:
        show(picked, made, key="draw_map", height=460)
        st.caption("Draw a digit to see where it lands.")
        return
    features, scores = features_and_scores(picked.model, torch.from_numpy(prediction.prepared.laid_out[None]))
    features, probs = features.numpy(), scores.softmax(1)[0]
    answer = int(probs.argmax())
    xy = place(features, map_features(picked, made), made.layout)[0]
    images, labels = training_neighbours(picked, features)
    st.markdown(f"**Read as {answer}: it sits with these**, its {NEIGHBOURS} nearest training digits in "
                f"{picked.label}'s feature space ({int((labels == answer).sum())} of them {answer}s):")
    _thumbnails(images, [f"a {v}" for v in labels])
    show(picked, made, key="draw_map", height=460,
         drawing={"xy": (float(xy[0]), float(xy[1])), "answer": answer, "confidence": float(probs[answer])})
