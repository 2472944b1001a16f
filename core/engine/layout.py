"""Laying an ink map out as a dataset's digits were made.

MNIST digits were cropped to their ink, scaled (antialiased, aspect kept) so the
longer side is 20 px, and pasted into 28x28 with the ink's centre of mass at the
centre; strokes thicker than MNIST's are thinned into its range first. The USPS
zip codes fill their 16x16 square on the longer side, centred. Datasets re-laid
out for another input and every drawing go through the same functions, or the
model sees something it was never trained on.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.engine.ink import NoDigitError
from core.engine.strokes import MNIST_STROKE_P95, THIN_TARGET, min_filter, stroke_width

BOX_SIDE = 20  # longer side of the digit in MNIST
OUT_SIDE = 28
# Ink mass trimmed from each side of the bounding box so that a stray speck
# far from the digit does not stretch the crop.
BBOX_TRIM = 0.005
MORPH_SIDE = 80  # thinning works on the crop at 4x the 20 px box


def _span(mass: np.ndarray) -> tuple[int, int]:
    """First and last index holding the ink mass, less BBOX_TRIM on each side."""
    cum = np.cumsum(mass, dtype=np.float64)
    total = cum[-1]
    first = int(np.searchsorted(cum, BBOX_TRIM * total, side="right"))
    last = int(np.searchsorted(cum, (1.0 - BBOX_TRIM) * total, side="left"))
    return first, max(first, last)


def _fit_box(ink: np.ndarray, side: int = BOX_SIDE) -> np.ndarray:
    """Crop to the ink and scale (antialiased, aspect kept) to a longer side of `side` px."""
    top, bottom = _span(ink.sum(axis=1))
    left, right = _span(ink.sum(axis=0))
    crop = ink[top : bottom + 1, left : right + 1]
    h, w = crop.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray(np.ascontiguousarray(crop), "F").resize(
        size, Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    return np.asarray(small, dtype=np.float32).clip(0.0, None)  # Lanczos rings below 0


def _centre(box: np.ndarray) -> np.ndarray:
    """Paste into 28x28 with the centre of mass at (14, 14), as MNIST (index coordinates)."""
    h, w = box.shape
    total = float(box.sum())
    if total <= 0.0:
        raise NoDigitError()
    cy = float(box.sum(axis=1) @ np.arange(h)) / total
    cx = float(box.sum(axis=0) @ np.arange(w)) / total
    centre = OUT_SIDE // 2
    top = min(max(round(centre - cy), 0), OUT_SIDE - h)  # clipped: nothing falls off
    left = min(max(round(centre - cx), 0), OUT_SIDE - w)
    out = np.zeros((OUT_SIDE, OUT_SIDE), dtype=np.float32)
    out[top : top + h, left : left + w] = box
    return out


def mnist_layout(ink: np.ndarray, match_strokes: bool = True) -> np.ndarray:
    """An ink map (bright on dark, any size) -> 28x28 uint8 laid out as MNIST was made:
    the ink's box scaled to 20 px on its longer side, centre of mass at the centre;
    with `match_strokes`, strokes thicker than MNIST's are first thinned into its range."""
    return mnist_layout_measured(ink, match_strokes)[0]


def mnist_layout_measured(ink: np.ndarray, match_strokes: bool = True) -> tuple[np.ndarray, float]:
    """(mnist_layout's image, the stroke width as drawn, before any thinning)."""
    def placed(ink: np.ndarray) -> np.ndarray:
        image = _centre(_fit_box(ink))
        return np.rint(image * (255.0 / image.max())).astype(np.uint8)

    image = placed(ink)
    drawn = stroke_width(image)
    if match_strokes and drawn > MNIST_STROKE_P95:
        image = placed(thin_to_mnist(ink, drawn))
    return image, drawn


def thin_to_mnist(ink: np.ndarray, width: float | None = None) -> np.ndarray:
    """The ink, with strokes that would come out thicker than MNIST's 95th percentile
    thinned (a grey-level erosion) to THIN_TARGET px at 28x28; other ink unchanged.

    A thick brush on a small digit gives strokes two or three times MNIST's, the
    loops of 6, 8 and 9 nearly closed, and a model that reads 8 everywhere. The
    erosion runs on the crop resized to MORPH_SIDE px, twice, because the box
    shrinks with the strokes and the 20 px rescale then widens them again.
    `width`: the stroke width at 28x28 when the caller has measured it already.
    """
    for attempt in range(2):
        if width is None or attempt > 0:
            width = stroke_width(_centre(_fit_box(ink)))
        if width <= MNIST_STROKE_P95:
            return ink
        crop = _fit_box(ink, MORPH_SIDE)
        # Erode by half the excess on each side, in crop pixels (20 px box -> MORPH_SIDE).
        radius = round((width - THIN_TARGET) / 2 * MORPH_SIDE / BOX_SIDE)
        if radius < 1:
            return ink
        eroded = min_filter(crop, radius)
        if eroded.max() <= 0.5 * crop.max():  # nothing solid left: keep the stroke as drawn
            return ink
        ink = eroded
    return ink


def usps_layout(ink: np.ndarray, side: int = 16) -> np.ndarray:
    """An ink map -> side x side uint8 laid out as the USPS zip codes were: the ink's
    box scaled to fill the square on its longer side, centred."""
    box = _fit_box(ink, side)
    h, w = box.shape
    out = np.zeros((side, side), dtype=np.float32)
    out[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = box
    return np.rint(out * (255.0 / out.max())).astype(np.uint8)


def relayout(images: np.ndarray, side: int = OUT_SIDE) -> np.ndarray:
    """uint8 [N, H, W] digits, ink bright -> uint8 [N, side, side]: MNIST's layout at
    28, USPS's below; a blank image stays blank."""
    layout = mnist_layout if side == OUT_SIDE else lambda ink: usps_layout(ink, side)
    out = np.zeros((len(images), side, side), dtype=np.uint8)
    for i, image in enumerate(images):
        try:
            out[i] = layout(image.astype(np.float32) / 255.0)
        except NoDigitError:
            pass
    return out
