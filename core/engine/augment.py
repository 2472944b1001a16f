"""Batched augmentation for handwriting: every sample its own stroke thickness,
slant, rotation, shift, scale and elastic distortion, the whole batch warped in
one `grid_sample` call on the training device (no per-sample Python).

Rotation, shift and scale are the usual affine jitter; the other three are how
real people's digits differ from MNIST's: a pen thinner or bolder than MNIST's,
writing that leans, and the wobble of a hand (Simard, Steinkraus and Platt 2003,
"Best practices for convolutional neural networks applied to visual document
analysis", section 2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# At strength 1.0: the seed recipe's +/-15 degrees and 10% translation, plus 10% scale.
MAX_ROTATION_DEG = 15.0
MAX_TRANSLATE = 0.10
MAX_SCALE = 0.10
# Simard et al.'s elastic field on 28x28 digits: uniform noise in [-1, 1] smoothed by a
# Gaussian of sigma 4 px and scaled by alpha 34 px (both scale with the image side).
ELASTIC_SIGMA = 4.0
ELASTIC_ALPHA = 34.0
# Stroke thickness at strength 1: up to one 3x3 dilation (about 2 px bolder), or the
# faint half of the strokes' antialiased edge dropped (about 1 px thinner).
MAX_THINNING_LEVEL = 0.5


@dataclass(frozen=True)
class Augmentation:
    affine: float = 0.0  # strength of rotation, shift and scale (1 = the limits above)
    elastic: float = 0.0  # 1 = Simard et al.'s alpha
    thickness: float = 0.0  # 0..1
    slant: float = 0.0  # degrees, either way

    OPTIONS = ("augment", "elastic", "thickness", "slant")  # the training options behind the four fields

    @classmethod
    def of(cls, values) -> "Augmentation":
        """The augmentation a TrainConfig asks for, or a mapping of the same options
        (None, an option that does not apply, is off)."""
        get = values.get if isinstance(values, dict) else lambda name: getattr(values, name, None)
        return cls(*(float(get(name) or 0.0) for name in cls.OPTIONS))

    @property
    def off(self) -> bool:
        return not (self.affine > 0 or self.elastic > 0 or self.thickness > 0 or self.slant > 0)


def augment(x: torch.Tensor, aug: Augmentation, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a [N, 1, H, W] batch of pixels in [0, 1], ink bright, background 0
    (grid_sample pads with zeros, so normalize only afterwards)."""
    if aug.off:
        return x
    n, device, dtype = x.shape[0], x.device, x.dtype
    # One draw for the per-sample numbers, in [-1, 1]: rotation, zoom, shift x, shift y, slant, thickness.
    r = (torch.rand(6, n, generator=generator) * 2 - 1).to(device, dtype)
    if aug.thickness > 0:
        x = change_thickness(x, r[5] * aug.thickness)
    if aug.affine <= 0 and aug.slant <= 0 and aug.elastic <= 0:
        return x
    limits = torch.tensor([math.radians(MAX_ROTATION_DEG), MAX_SCALE, 2 * MAX_TRANSLATE, 2 * MAX_TRANSLATE],
                          device=device, dtype=dtype) * aug.affine
    angle, zoom, tx, ty = (r[:4] * limits.unsqueeze(1)).view(4, n, 1, 1)
    shear = torch.tan(r[4] * math.radians(aug.slant)).view(n, 1, 1)
    # The sampling grid maps output -> input coordinates, so the zoom is inverted;
    # the slant shears x by y before the rotation.
    c, s = torch.cos(angle) / (1 + zoom), torch.sin(angle) / (1 + zoom)
    gx, gy = _base_coords(x.shape[-2], x.shape[-1], device, dtype)
    sx = gx + shear * gy
    grid = torch.stack([c * sx - s * gy + tx, s * sx + c * gy + ty], dim=-1)
    if aug.elastic > 0:
        grid = grid + elastic_field(n, x.shape[-2], x.shape[-1], aug.elastic, device, dtype, generator)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def change_thickness(x: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Per sample, amount in [-1, 1]: > 0 bolder (towards a 3x3 dilation), < 0 thinner
    (the faint edge of the strokes dropped, the rest stretched back to full ink)."""
    amount = amount.view(-1, 1, 1, 1)
    bolder = F.max_pool2d(x, 3, stride=1, padding=1)
    x = x + amount.clamp(min=0) * (bolder - x)
    level = (-amount).clamp(min=0) * MAX_THINNING_LEVEL
    return ((x - level) / (1 - level)).clamp_(0.0, 1.0)


def elastic_field(n: int, h: int, w: int, strength: float, device, dtype,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """[N, H, W, 2] displacements in grid units: smoothed uniform noise, Simard-style."""
    sigma, alpha = ELASTIC_SIGMA * h / 28, ELASTIC_ALPHA * h / 28 * strength
    noise = (torch.rand(n, 2, h, w, generator=generator) * 2 - 1).to(device, dtype)
    # The separable Gaussian blur (zero padding) as two small matrix products: on
    # 28x28 several times faster than two 25-tap convolutions.
    noise = _blur_matrix(h, sigma, device, dtype) @ noise @ _blur_matrix(w, sigma, device, dtype).T
    # Pixels to grid units ([-1, 1] spans the image).
    scale = torch.tensor([2.0 / w, 2.0 / h], device=device, dtype=dtype).view(1, 2, 1, 1)
    return (noise * alpha * scale).permute(0, 2, 3, 1)


@functools.lru_cache(maxsize=8)
def _blur_matrix(size: int, sigma: float, device, dtype) -> torch.Tensor:
    """[size, size]: row i holds the Gaussian (sum 1, cut at 3 sigma) centred on i."""
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    offsets = torch.arange(size).view(-1, 1) - torch.arange(size).view(1, -1) + radius
    inside = (offsets >= 0) & (offsets <= 2 * radius)
    return torch.where(inside, kernel[offsets.clamp(0, 2 * radius)], 0.0).to(device, dtype)


@functools.lru_cache(maxsize=8)
def _base_coords(h: int, w: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1] (align_corners=False), as [1, H, W] each."""
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return gx.unsqueeze(0), gy.unsqueeze(0)
