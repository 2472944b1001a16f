"""How big a configuration's model is, worked out from its settings without building
it: the side of each conv block's maps, the parameter count, and the activations one
image makes. Validation bounds the last two, so that no form field, sweep or
checkpoint can make the app build a model or time a step that exhausts the server."""

from __future__ import annotations

IMAGE_SIDE = 28
LENET1989_PARAMETERS = 9_760
# 20 M weights: 80 MB, about 320 MB with AdamW's state and the gradients; the largest
# preset has 0.4 M. The activations of one image: 2 M values, 8 MB (the largest preset
# makes 0.05 M); a training step keeps a few copies of each per image in its batch.
MAX_PARAMETERS = 20_000_000
MAX_ACTIVATIONS = 2_000_000


def feature_map_sizes(cfg) -> list[int]:
    """Side length after each conv block of the `cnn` model (28 -> ...)."""
    return [after for _, after in _conv_sides(cfg)]


def _conv_sides(cfg) -> list[tuple[int, int]]:
    return block_sides(len(cfg.resolved_widths()), cfg.kernel_size, cfg.padding, cfg.pooling)


def block_sides(blocks: int, kernel_size: int, padding: str, pooling: str) -> list[tuple[int, int]]:
    """(side of the conv's output, side after the block) for each of `blocks` conv blocks."""
    size, sides = IMAGE_SIDE, []
    pad = kernel_size // 2 if padding == "same" else 0
    for _ in range(blocks):
        if pooling == "none":  # a stride-2 convolution does the downsampling
            conv = size = (size + 2 * pad - kernel_size) // 2 + 1
        else:
            conv = size + 2 * pad - kernel_size + 1
            size = conv // 2
        sides.append((conv, size))
    return sides


def parameter_count(cfg) -> int:
    """The trainable parameters the config's model has (exactly what build_model makes)."""
    if cfg.model == "lenet1989":
        return LENET1989_PARAMETERS
    widths = cfg.resolved_widths()
    per_unit = 2 if cfg.batchnorm else 1  # batch norm's weight and bias, or the layer's own bias
    if cfg.model == "mlp":
        ins = (IMAGE_SIDE * IMAGE_SIDE, *widths[:-1])
        return sum(i * o + per_unit * o for i, o in zip(ins, widths)) + widths[-1] * 10 + 10
    k = cfg.kernel_size
    convs = sum(i * o * k * k + per_unit * o for i, o in zip((1, *widths[:-1]), widths))
    side = feature_map_sizes(cfg)[-1]
    flat = widths[-1] * max(side, 0) ** 2
    return convs + flat * cfg.hidden + cfg.hidden + cfg.hidden * 10 + 10


def activations_per_image(cfg) -> int:
    """Values one image makes in the layers' outputs (each conv's maps, the dense units)."""
    if cfg.model == "lenet1989":
        return 12 * 8 * 8 + 12 * 4 * 4 + 30 + 10
    widths = cfg.resolved_widths()
    if cfg.model == "mlp":
        return sum(widths) + 10
    return sum(w * conv * conv for w, (conv, _) in zip(widths, _conv_sides(cfg))) + cfg.hidden + 10
