"""The ink of an image: bright strokes on a background of exactly 0, whatever the
paper, pen, transparency or bit depth; NoDigitError when there is no ink at all."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core.engine.image_reading import ImageError

# Work happens on at most this many pixels a side: the digit ends up 20 px tall,
# so more resolution only costs time.
WORK_SIDE = 1024
# Ink must stand out from the background by this much (0..1) to count at all:
# ~25 grey levels, less is a smudge or a blank page.
MIN_CONTRAST = 0.1
INK_FRACTION = 0.15  # below this fraction of the strongest ink is background
MIN_INK_PIXELS = 4  # fewer (after dropping isolated specks) cannot be a stroke
_HIGH_BIT_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


class NoDigitError(ValueError):
    """The image is readable but holds no ink."""

    def __init__(self, message: str = "no digit found: draw or upload a digit"):
        super().__init__(message)


def _reduce(img: Image.Image) -> Image.Image:
    """Box-downscale big images by an integer factor: cheap, and it averages noise."""
    factor = math.ceil(max(img.size) / WORK_SIDE)
    return img.reduce(factor) if factor > 1 else img


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info


def _gray(img: Image.Image) -> np.ndarray:
    """Any mode -> float32 grey levels in [0, 1], opaque."""
    if img.mode in _HIGH_BIT_MODES:
        a = np.asarray(img, dtype=np.float32)
        hi = 65535.0 if img.mode.startswith("I;16") else _range_of(a)
        return np.asarray(_reduce(Image.fromarray(a / hi, "F")), dtype=np.float32).clip(0.0, 1.0)
    if _has_alpha(img):
        if img.mode not in ("RGBA", "LA"):
            img = img.convert("RGBA")  # applies a palette's or a tRNS transparency
        # Premultiplied ("La"), so the reduce averages grey and coverage together.
        la = np.asarray(_reduce(img.convert("LA").convert("La")), dtype=np.float32) / 255.0
        lum, alpha = la[:, :, 0], la[:, :, 1]
        covered = alpha.sum()
        # Put the strokes on a background they contrast with: light ink on
        # black, dark ink on white (a canvas's transparent background).
        back = 0.0 if covered == 0 or lum.sum() / covered >= 0.5 else 1.0
        return lum + back * (1.0 - alpha)
    return np.asarray(_reduce(img.convert("L")), dtype=np.float32) / 255.0


def _range_of(a: np.ndarray) -> float:
    """The full-scale value of a 32-bit image: 1, 255, 65535 or its own maximum."""
    top = float(a.max()) if a.size else 1.0
    for full in (1.0, 255.0, 65535.0):
        if top <= full:
            return full
    return top


def _ring(g: np.ndarray) -> np.ndarray:
    return np.concatenate([g[0], g[-1], g[1:-1, 0], g[1:-1, -1]])


def _drop_isolated(mask: np.ndarray) -> np.ndarray:
    """Keep ink pixels with at least one ink neighbour: a lone pixel is noise."""
    p = np.pad(mask.view(np.uint8), 1)
    cols = p[:-2] + p[1:-1] + p[2:]  # 3-row sums, then 3-column sums: a 3x3 count
    count = cols[:, :-2] + cols[:, 1:-1] + cols[:, 2:]
    return mask & (count >= 2)


def ink_map(img: Image.Image) -> np.ndarray:
    """float32 ink in [0, 1], bright on dark, background exactly 0; NoDigitError if none."""
    try:
        g = _gray(img)
    except (ValueError, OSError) as e:  # e.g. a colour mode PIL cannot convert
        raise ImageError(f"images in colour mode {img.mode!r} are not supported") from e
    ring = _ring(g)
    back = float(np.median(ring))
    if back > 0.5:  # light border: dark ink on paper
        g, ring, back = 1.0 - g, 1.0 - ring, 1.0 - back
    # Paper texture and uneven light: the spread of the border says what is noise.
    sigma = 1.4826 * float(np.median(np.abs(ring - back)))
    ink = np.clip(g - back, 0.0, 1.0)
    peak = float(ink.max())
    if peak < max(MIN_CONTRAST, 6.0 * sigma):
        raise NoDigitError()
    mask = _drop_isolated(ink >= max(INK_FRACTION * peak, 4.0 * sigma))
    if np.count_nonzero(mask) < MIN_INK_PIXELS:
        raise NoDigitError()
    return np.where(mask, ink, np.float32(0.0))
