"""Kernels and feature maps, as the Filters page gets them, for every model family."""

import numpy as np
import torch

from core.engine.config import from_preset
from core.engine.introspect import conv_kernels, feature_maps
from core.engine.models import build_model
from core.predict import model_path
from core.runs.checkpoint import load_model


def test_cnn_kernels_have_layer_names_and_shapes():
    model = build_model(from_preset("seed-cnn"))
    kernels = conv_kernels(model)
    assert [k.shape for k in kernels] == [(24, 1, 3, 3), (36, 24, 3, 3)]
    assert [k.layer for k in kernels] == ["conv1", "conv2"]
    assert np.array_equal(kernels[0].weights, model.features[0][0].weight.detach().numpy())


def test_cnn_feature_maps_for_every_layer():
    maps = feature_maps(build_model(from_preset("seed-cnn")).eval(), torch.randn(1, 1, 28, 28))
    assert [(m.layer, m.maps.shape) for m in maps] == [
        ("block1", (24, 13, 13)), ("block2", (36, 5, 5)), ("fc1", (128,)), ("fc2", (10,))]


def test_lenet1989_shows_the_papers_layers():
    model = build_model(from_preset("lenet1989"))
    assert [(k.layer, k.shape) for k in conv_kernels(model)] == [("H1", (12, 1, 5, 5)), ("H2", (12, 8, 5, 5))]
    maps = feature_maps(model, torch.randn(1, 1, 28, 28))
    assert [(m.layer, m.maps.shape) for m in maps] == [
        ("input16", (1, 16, 16)), ("H1", (12, 8, 8)), ("H2", (12, 4, 4)), ("H3", (30,)), ("output", (10,))]


def test_mlp_has_no_kernels_but_dense_maps():
    model = build_model(from_preset(None, model="mlp")).eval()
    assert conv_kernels(model) == []
    assert [m.maps.shape for m in feature_maps(model, torch.randn(1, 1, 28, 28))] == [(128,), (64,), (10,)]


def test_last_feature_map_is_the_models_output():
    model, _, _ = load_model(model_path(None))
    x = torch.randn(1, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)[0].numpy()
    assert np.allclose(feature_maps(model, x)[-1].maps, expected, atol=1e-5)



def test_feature_maps_are_safe_on_one_shared_model_across_threads():
    """The app caches one model for every session: concurrent callers must each get
    the activations of their own digit, exactly as if they had run alone."""
    from concurrent.futures import ThreadPoolExecutor

    for cfg in (from_preset("seed-cnn"), from_preset(None, model="mlp"), from_preset("lenet1989")):
        model = build_model(cfg).eval()
        inputs = [torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(i)) for i in range(16)]
        alone = [feature_maps(model, x) for x in inputs]
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(3):
                together = list(pool.map(lambda x: feature_maps(model, x), inputs * 4))
                for i, maps in enumerate(together):
                    expected = alone[i % len(inputs)]
                    assert [m.layer for m in maps] == [m.layer for m in expected]
                    assert all(np.array_equal(a.maps, b.maps) for a, b in zip(maps, expected)), cfg.model
