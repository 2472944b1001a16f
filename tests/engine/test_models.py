"""Every model family, activation and pooling: forward and backward with the right shapes."""

import pytest
import torch

from core.engine.augment import Augmentation, augment
from core.engine.config import ACTIVATIONS, POOLINGS, ConfigError, TrainConfig, from_preset, validate
from core.engine.models import build_model, count_parameters

POOL_CLASSES = {"max": "MaxPool2d", "avg": "AvgPool2d", "lp": "LPPool2d"}


def forward_backward(cfg, batch=4):
    model = build_model(cfg)
    x = torch.randn(batch, 1, 28, 28, requires_grad=True)
    out = model(x)
    assert out.shape == (batch, 10)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert all(p.grad is not None for p in model.parameters())
    return model


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_cnn_every_activation_and_pooling(activation, pooling):
    forward_backward(from_preset(None, model="cnn", activation=activation, pooling=pooling, widths=(4, 8)))


@pytest.mark.parametrize("pooling", ["max", "avg", "lp"])
def test_pool_first_pools_before_the_norm_with_the_same_weights(pooling):
    cfg = from_preset(None, model="cnn", pooling=pooling, widths=(4, 8), pool_first=True)
    model = forward_backward(cfg)
    assert [type(m).__name__ for m in model.features[0]][:3] == ["Conv2d", POOL_CLASSES[pooling], "BatchNorm2d"]
    classic = build_model(from_preset(None, model="cnn", pooling=pooling, widths=(4, 8)))
    assert [type(m).__name__ for m in classic.features[0]] == ["Conv2d", "BatchNorm2d", "ReLU", POOL_CLASSES[pooling]]
    # The same weights, under other names: a checkpoint knows which it is from its config.
    shapes = sorted(t.shape for t in model.state_dict().values())
    assert shapes == sorted(t.shape for t in classic.state_dict().values())


def test_a_config_older_than_pool_first_reads_as_before():
    """Runs written before the option: a cnn's blocks stay classic, an mlp's config stays valid."""
    for family in ("cnn", "mlp"):
        written = from_preset(None, model=family).to_dict()
        del written["pool_first"]
        cfg = TrainConfig.from_dict(written)
        validate(cfg)
        assert cfg.pool_first == (False if family == "cnn" else None)
        if family == "cnn":  # batch norm right after the conv, where the file's weights say it is
            assert "features.0.1.running_mean" in build_model(cfg).state_dict()


def test_a_config_whose_blocks_shrink_the_image_to_nothing_builds_nothing():
    """Validation refuses it; a checkpoint's config (not validated) must not build a net
    whose flattened size is worked out from a negative side."""
    cfg = TrainConfig(model="cnn", widths=(4, 4, 4, 4), kernel_size=9, padding="valid")
    with pytest.raises(ValueError, match="to nothing"):
        build_model(cfg)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_every_activation(activation):
    forward_backward(from_preset(None, model="mlp", activation=activation))


def test_mlp_default_is_784_128_64_10():
    model = build_model(from_preset(None, model="mlp", batchnorm=False))
    assert count_parameters(model) == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10


def test_lenet1989_matches_the_paper():
    model = forward_backward(from_preset("lenet1989"))
    # The paper: 1,256 units, 9,760 free parameters.
    assert count_parameters(model) == 9760
    stages = model.stages(torch.zeros(1, 1, 28, 28))
    assert stages["input16"].shape == (1, 1, 16, 16)
    assert stages["H1"].shape == (1, 12, 8, 8)
    assert stages["H2"].shape == (1, 12, 4, 4)
    assert stages["H3"].shape == (1, 30)


def test_seed_cnn_has_the_recipe_layers():
    model = build_model(from_preset("seed-cnn"))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(1, 24, (3, 3)), (24, 36, (3, 3))]
    assert [(fc.in_features, fc.out_features) for fc in linears] == [(900, 128), (128, 10)]


def test_widths_that_shrink_to_nothing_are_rejected():
    with pytest.raises(ConfigError, match="widths"):
        from_preset(None, model="cnn", widths=(8, 8, 8, 8, 8), padding="valid", kernel_size=5)


def test_augmentation_differs_per_sample_and_keeps_ink():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0  # the same bar in every sample
    out = augment(x, Augmentation(affine=1.0), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert all(not torch.allclose(out[i], out[j]) for i in range(8) for j in range(i + 1, 8))
    assert (out.sum(dim=(1, 2, 3)) > 0.5 * x[0].sum()).all()
    assert torch.equal(augment(x, Augmentation(affine=0.0)), x)


def test_the_typed_config_and_the_option_table_agree():
    """TrainConfig's fields are the option table's, in its order, with its defaults and
    types; an option that may not apply (or has no default) is typed `| None`."""
    import dataclasses
    import typing

    from core.engine.options import OPTIONS

    fields = [f for f in dataclasses.fields(TrainConfig) if f.name not in ("preset", "sweep_id")]
    hints = typing.get_type_hints(TrainConfig)
    assert [f.name for f in fields] == [o.name for o in OPTIONS]
    for field, option in zip(fields, OPTIONS):
        assert field.default == option.default, option.name
        kinds = [t for t in typing.get_args(hints[option.name]) or (hints[option.name],) if t is not type(None)]
        assert [typing.get_origin(k) or k for k in kinds] == [option.kind], option.name
        may_be_none = type(None) in typing.get_args(hints[option.name])
        assert may_be_none == (option.applies is not None or option.default is None), option.name
