"""Batched random affine augmentation: every sample its own rotation, shift and
scale, the whole batch warped in one `affine_grid` + `grid_sample` call on the
training device (no per-sample Python)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# At strength 1.0: the seed recipe's +/-15 degrees and 10% translation, plus 10% scale.
MAX_ROTATION_DEG = 15.0
MAX_TRANSLATE = 0.10
MAX_SCALE = 0.10


def random_affine(x: torch.Tensor, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Warp a [N, C, H, W] batch with a random affine map per sample.

    The background must be 0 before the call (pixels in [0, 1], not yet
    normalized), because grid_sample pads with zeros.
    """
    if strength <= 0:
        return x
    n = x.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        r = torch.rand(n, generator=generator, device="cpu").to(x.device, x.dtype)
        return (2 * r - 1) * limit * strength

    angle = uniform(math.radians(MAX_ROTATION_DEG))
    # Sampling grid maps output -> input coordinates, so invert the zoom.
    inv_scale = 1.0 / (1.0 + uniform(MAX_SCALE))
    # Coordinates run over [-1, 1], so a shift of 10% of the image is 0.2.
    tx, ty = 2 * uniform(MAX_TRANSLATE), 2 * uniform(MAX_TRANSLATE)
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    theta = torch.stack(
        [torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
