"""The map's features come from the layer claimed, for every family; samples are
stratified; layouts are deterministic, aligned, and keep the classes apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine.config import from_preset
from core.engine.data import normalize
from core.engine.features import features_and_scores, last_linear, penultimate, stratified_sample
from core.engine.models import build_model
from core.engine.projection import MapSettings, align, nearest, place, project


def _digits(n: int = 12, side: int = 28) -> torch.Tensor:
    return torch.randint(0, 256, (n, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _claimed_layer(family: str, model, x: torch.Tensor) -> torch.Tensor:
    """What each family's own code says its last linear layer reads."""
    if family == "cnn":
        return model.classifier[:-1](model.features(x))
    if family == "mlp":
        return model.layers[:-1](x)
    return model.stages(x)["H3"].flatten(1)  # lenet1989: H3 feeds `out`


@pytest.mark.parametrize("family", ["cnn", "mlp", "lenet1989"])
def test_features_are_the_last_linear_layers_input_and_give_the_models_answer(family):
    torch.manual_seed(0)
    model = build_model(from_preset(None, model=family)).eval()
    images = _digits(side=16 if family == "lenet1989" else 28)
    features, scores = features_and_scores(model, images, batch=5)  # batches of 5, 5 and 2
    with torch.no_grad():
        x = normalize(images)
        claimed = _claimed_layer(family, model, x)
        direct = model(x)
    assert features.shape == (len(images), last_linear(model).in_features) == claimed.shape
    assert torch.allclose(features, claimed, atol=1e-5)
    assert torch.allclose(scores, direct, atol=1e-5)
    # The classifier's answer recomputed from the features is the model's.
    assert torch.equal(last_linear(model)(features).argmax(1), direct.argmax(1))
    assert torch.allclose(penultimate(model, images), features, atol=1e-5)  # one batch, not three


def test_a_stratified_sample_takes_each_class_equally_and_is_the_same_each_time():
    labels = torch.tensor([0] * 500 + [1] * 300 + [2] * 40)
    picked = stratified_sample(labels, 90, seed=0)
    assert len(picked) == len(set(picked.tolist())) == 90 and np.all(np.diff(picked) > 0)
    assert np.bincount(labels[picked].numpy()).tolist() == [30, 30, 30]
    assert np.array_equal(picked, stratified_sample(labels, 90, seed=0))
    assert not np.array_equal(picked, stratified_sample(labels, 90, seed=1))
    assert len(stratified_sample(labels, 10_000, seed=0)) == len(labels)


def test_a_short_class_gives_all_it_has_and_the_others_make_up_the_count():
    labels = torch.tensor([0] * 500 + [1] * 300 + [2] * 40)
    picked = stratified_sample(labels, 300, seed=0)
    counts = np.bincount(labels[picked].numpy())
    assert len(picked) == 300 and counts[2] == 40 and counts.min() == 40 and counts[:2].min() >= 100


def test_align_undoes_a_turn_a_mirror_and_a_scale():
    rng = np.random.default_rng(0)
    layout = rng.normal(size=(200, 2)).astype(np.float32)
    angle = 1.1
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    moved = 3.0 * layout @ turn + np.array([5.0, -2.0])
    assert np.allclose(align(moved, layout), layout, atol=1e-4)


def _clustered(n_per: int = 100, classes: int = 5, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6, size=(classes, dim))
    labels = np.repeat(np.arange(classes), n_per)
    return (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32), labels


def _kept_apart(layout: np.ndarray, labels: np.ndarray) -> float:
    """How often a 10-nearest-neighbour vote on the map gives a digit's own class."""
    index, _ = nearest(layout, layout, 11)
    votes = [np.bincount(labels[row[1:]], minlength=labels.max() + 1).argmax() for row in index]
    return float(np.mean(np.asarray(votes) == labels))


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_each_method_keeps_the_clusters_apart_and_repeats_itself(method):
    features, labels = _clustered()
    settings = MapSettings(method, tsne_iterations=250)
    layout = project(features, settings)
    assert layout.shape == (len(labels), 2) and np.isfinite(layout).all()
    assert _kept_apart(layout, labels) > 0.97
    assert np.allclose(project(features, settings), layout, atol=1e-3)  # the same seed, the same map


def test_a_map_started_from_another_stays_in_its_pose():
    """The next epoch's map, started from this one's, is turned to match it: for
    slightly changed features it lands near where it was, not mirrored or rotated."""
    features, labels = _clustered()
    first = project(features, MapSettings("umap"))
    rng = np.random.default_rng(1)
    nudged = features + rng.normal(scale=0.2, size=features.shape).astype(np.float32)
    second = project(nudged, MapSettings("umap", seed=1), start=first)
    unstarted = project(nudged, MapSettings("umap", seed=1))
    moved = np.sqrt(((second - first) ** 2).sum(1)).mean()
    assert moved < 0.35, moved  # a map of unit spread
    assert moved < np.sqrt(((unstarted[::-1] - first) ** 2).sum(1)).mean()


def test_a_new_digit_is_placed_among_its_nearest_map_digits():
    features, labels = _clustered()
    layout = project(features, MapSettings("pca"))
    new = features[labels == 3][:4] + 0.1
    xy = place(new, features, layout, k=8)
    index, _ = nearest(xy, layout, 8)  # its neighbours on the map are of its class
    assert (labels[index] == 3).mean() > 0.9


def test_an_unknown_method_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="umap, tsne, pca"):
        MapSettings("isomap")
