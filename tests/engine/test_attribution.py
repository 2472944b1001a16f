"""Attribution maps: they point at the pixels that matter, add up (IG), contrast two
classes, fit every model family, and leave the shared model exactly as it was."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn as nn
from captum.attr import Occlusion

from core.engine.attribution import METHODS, blank_like, explain, occlusion_window
from core.engine.config import from_preset
from core.engine.data import normalize
from core.engine.mnist import load_mnist
from core.engine.models import build_model
from core.predict import model_path
from core.runs.checkpoint import load_model

DIGITS = 100
WINDOW = 7  # a quarter of the side: about one stroke of a digit
RANDOM_WINDOWS = 10  # per digit, to estimate a random window's expected effect
SEED = 0
TINY = {  # small untrained models of every family, with BatchNorm and dropout where they have them
    "mlp": dict(model="mlp", widths=(16,)),
    "cnn": dict(model="cnn", widths=(4, 8), hidden=16),
    "lenet1989": dict(model="lenet1989"),
    "lenet1989-usps16": dict(model="lenet1989", dataset="usps"),
}


def most_influential_window(attribution_map: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left (row, col) of the size x size window with the largest summed attribution."""
    a = np.asarray(attribution_map, dtype=np.float64)
    if not 1 <= size <= min(a.shape):
        raise ValueError(f"window size {size} does not fit a {a.shape[0]}x{a.shape[1]} map")
    # Summed-area table: every window's sum in one pass.
    table = np.pad(a.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]
    row, col = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(row), int(col)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The per-digit batches are small: on a shared CPU a second thread mostly waits
    for the first (measured 6x slower on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def default_model() -> nn.Module:
    model, _, _ = load_model(model_path(None))
    return model


@pytest.fixture(scope="module")
def test_digits(mnist_dir) -> torch.Tensor:
    """100 test-set digits drawn with a fixed seed, normalized: [100, 1, 28, 28]."""
    images = load_mnist(mnist_dir, download=False).test_images
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SEED))
    return normalize(images[order[:DIGITS]])


@pytest.fixture(scope="module")
def explanations(default_model, test_digits) -> dict:
    """Each method's explanations of the 100 digits, computed once for the tests that read them."""
    cache: dict = {}

    def get(method: str) -> list:
        if method not in cache:
            cache[method] = [explain(default_model, x[None], method) for x in test_digits]
        return cache[method]

    return get


def tiny_model(name: str) -> tuple[nn.Module, int]:
    torch.manual_seed(SEED)
    cfg = from_preset(None, **TINY[name])
    return build_model(cfg).eval(), cfg.input_side()


def test_occluding_the_top_window_hurts_more_than_a_random_one(default_model, test_digits, explanations):
    """The issue's property: blank out the most positive 7x7 window of the map and the
    predicted class's probability drops far more than when a random 7x7 window is blanked."""
    blank = float(blank_like(test_digits[:1]).flatten()[0])
    corners = np.random.default_rng(SEED).integers(0, 28 - WINDOW + 1, size=(DIGITS, RANDOM_WINDOWS, 2))
    for method in METHODS:
        top_drops, random_drops = [], []
        for x, e, random_corners in zip(test_digits, explanations(method), corners):
            windows = [most_influential_window(e.toward_predicted, WINDOW), *map(tuple, random_corners)]
            occluded = x[None].repeat(len(windows), 1, 1, 1)
            for copy, (row, col) in zip(occluded, windows):
                copy[0, row:row + WINDOW, col:col + WINDOW] = blank
            with torch.no_grad():
                probs = default_model(occluded).softmax(1)[:, e.predicted].numpy()
            drops = e.probs[e.predicted] - probs
            top_drops.append(drops[0])
            random_drops.append(drops[1:].mean())
        top, rand = np.array(top_drops), np.array(random_drops)
        wins = int((top > rand).sum())
        print(f"\n{METHODS[method]}: mean drop of p(predicted), top {WINDOW}x{WINDOW} window {top.mean():.4f}, "
              f"random window {rand.mean():.4f} ({top.mean() / rand.mean():.1f}x); "
              f"top beats random on {wins}/{DIGITS} digits")
        assert top.mean() > 3 * rand.mean(), method
        assert wins >= 80, method


def test_integrated_gradients_add_up_to_the_score_change(default_model, test_digits, explanations):
    """Completeness: a map sums to score(digit) - score(blank page), up to the error of
    64 integration steps through ReLU kinks (it shrinks 4x with 4x the steps)."""
    relative, of_mass = [], []
    for x, e in zip(test_digits, explanations("integrated_gradients")):
        with torch.no_grad():
            change = (default_model(x[None]) - default_model(blank_like(x[None])))[0].numpy()
        for attribution, expected in ((e.toward_predicted, change[e.predicted]),
                                      (e.contrast, change[e.predicted] - change[e.runner_up])):
            error = abs(attribution.sum() - expected)
            relative.append(error / abs(expected))
            of_mass.append(error / np.abs(attribution).sum())
    print(f"\nIG completeness: error / score change, median {np.median(relative):.4f}, max {np.max(relative):.4f}; "
          f"error / sum of |map|, max {np.max(of_mass):.4f}")
    assert np.max(of_mass) < 0.03  # small beside the map's own mass
    assert np.median(relative) < 0.02


def test_occlusion_matches_captum_per_class():
    """Both classes come from one Occlusion pass; each must equal Captum's own per-class answer."""
    model, side = tiny_model("cnn")
    x = torch.randn(1, 1, side, side, generator=torch.Generator().manual_seed(SEED))
    e = explain(model, x, "occlusion")
    window, stride = occlusion_window(side)
    occlusion = Occlusion(model)
    for cls, got in ((e.predicted, e.toward_predicted), (e.runner_up, e.toward_runner_up)):
        expected = occlusion.attribute(x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
                                       baselines=blank_like(x), target=cls)[0, 0].numpy()
        assert np.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", TINY)
def test_maps_fit_the_input_and_contrast_the_top_two(family, method):
    model, side = tiny_model(family)
    x = torch.randn(1, 1, side, side, generator=torch.Generator().manual_seed(SEED))
    e = explain(model, x, method)
    with torch.no_grad():
        probs = model(x).softmax(1)[0]
    assert [e.predicted, e.runner_up] == probs.topk(2).indices.tolist()
    assert np.allclose(e.probs, probs.numpy(), atol=1e-6)
    for m in (e.toward_predicted, e.toward_runner_up, e.contrast):
        assert m.shape == (side, side) and m.dtype == np.float32 and np.isfinite(m).all()
    assert np.array_equal(e.contrast, e.toward_predicted - e.toward_runner_up)
    assert np.abs(e.toward_predicted).sum() > 0


def test_target_and_versus_can_be_chosen():
    model, side = tiny_model("mlp")
    x = torch.randn(1, 1, side, side)
    e = explain(model, x, target=3, versus=5)
    assert (e.predicted, e.runner_up) == (3, 5)
    assert explain(model, x, target=5).runner_up != 5
    for bad in (dict(target=3, versus=3), dict(target=10)):
        with pytest.raises(ValueError):
            explain(model, x, **bad)
    with pytest.raises(ValueError):
        explain(model, x, method="lime")


def _hooks(module: nn.Module) -> list:
    return [hooks for m in module.modules() for hooks in (m._forward_hooks, m._forward_pre_hooks,
                                                         m._backward_hooks, m._backward_pre_hooks) if hooks]


@pytest.mark.parametrize("family", TINY)
def test_the_shared_model_is_left_untouched(family):
    """The app shares one model between sessions: no hooks, no .grad, same weights
    and BatchNorm statistics, still in eval mode. Also from inside inference mode."""
    model, side = tiny_model(family)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.inference_mode():  # a caller's inference-mode tensor and context must not break autograd
        x = torch.randn(1, 1, side, side)
        for method in METHODS:
            explain(model, x, method)
    assert not _hooks(model)
    assert not nn.modules.module._global_forward_hooks and not nn.modules.module._global_backward_hooks
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m.training for m in model.modules())


def test_a_model_in_train_mode_is_refused_and_left_so():
    model, side = tiny_model("cnn")
    model.train()
    with pytest.raises(ValueError, match="eval mode"):
        explain(model, torch.randn(1, 1, side, side))
    assert model.training


def test_threads_sharing_one_model_get_their_own_maps():
    model, side = tiny_model("cnn")
    inputs = [torch.randn(1, 1, side, side, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    alone = [explain(model, x, method) for x in inputs for method in METHODS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: explain(model, *job), [(x, m) for x in inputs for m in METHODS]))
    for a, b in zip(alone, together):
        assert (a.predicted, a.runner_up) == (b.predicted, b.runner_up)
        assert np.allclose(a.toward_predicted, b.toward_predicted, atol=1e-5)
        assert np.allclose(a.toward_runner_up, b.toward_runner_up, atol=1e-5)


def test_most_influential_window_finds_the_hot_spot():
    attribution = np.zeros((28, 28), dtype=np.float32)
    attribution[10:13, 4:7] = 1.0
    attribution[0:3, 0:3] = -5.0
    assert most_influential_window(attribution, 3) == (10, 4)
    assert most_influential_window(attribution, 28) == (0, 0)
    with pytest.raises(ValueError):
        most_influential_window(attribution, 29)
