"""Any image in, the model's 28x28 input out, the way MNIST was made.

MNIST digits were cropped to their ink, scaled (antialiased, aspect kept) so
the longer side is 20 px, and pasted into 28x28 with the ink's centre of mass
at the centre. A drawing or photo has to go through the same steps, or the
model sees something it was never trained on.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.engine.data import normalize

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 25_000_000

# Work happens on at most this many pixels a side: the digit ends up 20 px tall,
# so more resolution only costs time.
WORK_SIDE = 1024
BOX_SIDE = 20  # longer side of the digit in MNIST
OUT_SIDE = 28
# Ink must stand out from the background by this much (0..1) to count at all:
# ~25 grey levels, less is a smudge or a blank page.
MIN_CONTRAST = 0.1
INK_FRACTION = 0.15  # below this fraction of the strongest ink is background
MIN_INK_PIXELS = 4  # fewer (after dropping isolated specks) cannot be a stroke
# Ink mass trimmed from each side of the bounding box so that a stray speck
# far from the digit does not stretch the crop.
BBOX_TRIM = 0.005
_HIGH_BIT_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


class ImageError(ValueError):
    """The input cannot be read as an image (unreadable, unsupported or too large)."""


class NoDigitError(ValueError):
    """The image is readable but holds no ink."""

    def __init__(self, message: str = "no digit found: draw or upload a digit"):
        super().__init__(message)


@dataclass
class Prepared:
    tensor: torch.Tensor  # [1, 1, side, side] float, normalized as in training
    image28: np.ndarray  # [28, 28] uint8 (16x16 for a model fed USPS as published), ink bright: what the model sees
    stroke_drawn: float = 0.0  # stroke width in px at 28x28 as drawn...
    stroke_seen: float = 0.0  # ...and as the model sees it (thinned when thicker than MNIST's)


# ---------------------------------------------------------------- reading


def _too_large_bytes(size: int) -> ImageError:
    return ImageError(f"the file is {size / 2**20:.1f} MB; images up to {MAX_IMAGE_BYTES // 2**20} MB are accepted")


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"the image is {width:,} x {height:,} pixels; at most {MAX_IMAGE_PIXELS:,} pixels are accepted"
        )


def _read_path(path: Path) -> bytes:
    try:
        size = path.stat().st_size  # checked before reading a byte
        if size > MAX_IMAGE_BYTES:
            raise _too_large_bytes(size)
        return path.read_bytes()
    except OSError as e:
        raise ImageError(f"the file {path.name!r} cannot be read ({e.strerror or type(e).__name__})") from e


def _read_stream(f) -> bytes:
    try:
        size = 0
        if f.seekable():  # the size is known without reading
            here = f.tell()
            size = f.seek(0, io.SEEK_END) - here
            f.seek(here)
        data = b"" if size > MAX_IMAGE_BYTES else f.read(MAX_IMAGE_BYTES + 1)  # capped even unseekable
    except (OSError, ValueError, AttributeError) as e:
        raise ImageError("the uploaded file cannot be read") from e
    if size > MAX_IMAGE_BYTES:
        raise _too_large_bytes(size)
    if not isinstance(data, (bytes, bytearray)):
        raise ImageError("the file was opened as text; open it in binary mode")
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large_bytes(len(data))
    return bytes(data)


def _decode(data: bytes) -> Image.Image:
    if not data:
        raise ImageError("the file is empty; upload a PNG or JPEG image of a digit")
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large_bytes(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # lazy: reads the header only
            _check_pixels(*img.size)  # before any pixel is decoded
            img.seek(0)  # first frame of an animation
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError("the image has too many pixels to be processed safely") from e
    except Image.UnidentifiedImageError as e:
        raise ImageError("the file is not an image PIL can read; upload a PNG, JPEG, GIF, BMP or WebP") from e
    except Exception as e:  # PIL reports corrupt data with many exception types
        raise ImageError("the image file is truncated or corrupt") from e
    return img


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or 0 in a.shape:
        raise ImageError(f"an image array must be HxW, HxWx3 or HxWx4; got shape {a.shape}")
    _check_pixels(a.shape[1], a.shape[0])
    if a.dtype != np.uint8:
        a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        # floats in [0, 1] are the usual convention; anything larger is 0..255
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        a = np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(a))


def open_image(source) -> Image.Image:
    """Bytes, a path, a binary file, a PIL image or a numpy array -> a loaded PIL image."""
    if isinstance(source, Image.Image):
        _check_pixels(*source.size)
        try:
            if getattr(source, "n_frames", 1) > 1 and source.tell() != 0:
                source.seek(0)
            source.load()
        except Exception as e:
            raise ImageError("the image is truncated or corrupt") from e
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return _decode(_read_path(Path(source)))
    if hasattr(source, "read"):
        return _decode(_read_stream(source))
    raise ImageError(f"cannot read an image from a {type(source).__name__}")


# ---------------------------------------------------------------- ink


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


# ---------------------------------------------------------------- 28x28


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
    return _mnist_layout_measured(ink, match_strokes)[0]


def _mnist_layout_measured(ink: np.ndarray, match_strokes: bool = True) -> tuple[np.ndarray, float]:
    """(mnist_layout's image, the stroke width as drawn, before any thinning)."""
    def placed(ink: np.ndarray) -> np.ndarray:
        image = _centre(_fit_box(ink))
        return np.rint(image * (255.0 / image.max())).astype(np.uint8)

    image = placed(ink)
    drawn = stroke_width(image)
    if match_strokes and drawn > MNIST_STROKE_P95:
        image = placed(thin_to_mnist(ink, drawn))
    return image, drawn


# MNIST's stroke widths in its 28x28 images (stroke_width of 2,000 test digits):
# median 2.46 px, 95th percentile 3.61 px.
MNIST_STROKE_MEDIAN = 2.46
MNIST_STROKE_P95 = 3.61
THIN_TARGET = 3.0  # thick strokes are thinned to this (between MNIST's median and p95)
# Drawn thicker than this, the loops of 0, 6, 8 and 9 close up: no thinning brings them back.
LOOPS_CLOSE = 6.0
MORPH_SIDE = 80  # thinning works on the crop at 4x the 20 px box


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
        eroded = _min_filter(crop, radius)
        if eroded.max() <= 0.5 * crop.max():  # nothing solid left: keep the stroke as drawn
            return ink
        ink = eroded
    return ink


def _min_filter(a: np.ndarray, radius: int) -> np.ndarray:
    """Grey-level erosion with a (2r+1)-square window, separable: rows, then columns."""
    k = 2 * radius + 1
    p = np.pad(a, radius, mode="constant")
    rows = np.lib.stride_tricks.sliding_window_view(p, k, axis=1).min(axis=-1)
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=0).min(axis=-1)


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


def prepare_digit(source, side: int = 28) -> Prepared:
    """Any image of a digit -> the model's normalized [1, 1, side, side] input and its
    picture: MNIST's layout at 28, USPS's at 16 (a model trained on USPS as published)."""
    ink = ink_map(open_image(source))
    if side == OUT_SIDE:
        image, drawn = _mnist_layout_measured(ink)
    else:
        image = usps_layout(ink, side)
        drawn = stroke_width(image)
    return Prepared(tensor=normalize(torch.from_numpy(image)[None]), image28=image, stroke_drawn=drawn,
                    stroke_seen=stroke_width(image))


def stroke_width(image: np.ndarray) -> float:
    """Mean stroke width in pixels of a bright-on-dark digit image (any size).

    A stroke of width w and length L has ink w*L and an outline of 2*L, so
    w = 2 * ink / outline, with ink the summed brightness and the outline the
    summed gradient magnitude (both in units of full brightness; antialiased
    edges count for what they hold).
    """
    a = np.asarray(image, dtype=np.float32)
    a = np.pad(a / max(float(a.max()), 1e-6), 1)
    gy, gx = np.gradient(a)
    outline = float(np.hypot(gx, gy).sum())
    return 2.0 * float(a.sum()) / outline if outline > 0 else 0.0
