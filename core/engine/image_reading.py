"""Reading an image from whatever a user hands over (bytes, a path, a file, a PIL
image, an array), within limits: a file's size is checked before it is read and an
image's pixel count before it is decoded, so no upload can exhaust the server."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 25_000_000
# Pillow's decoders for these and no others: a file named .png that holds EPS (handed to
# Ghostscript where installed), PSD or ICO is refused, not decoded by whatever matches.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


class ImageError(ValueError):
    """The input cannot be read as an image (unreadable, unsupported or too large)."""


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


def _names(formats) -> str:
    names = [f.replace("WEBP", "WebP") for f in formats]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _decode(data: bytes, formats=IMAGE_FORMATS) -> Image.Image:
    if not data:
        raise ImageError("the file is empty; upload a PNG or JPEG image of a digit")
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large_bytes(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(formats))  # lazy: reads the header only
            _check_pixels(*img.size)  # before any pixel is decoded
            img.seek(0)  # first frame of an animation
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError("the image has too many pixels to be processed safely") from e
    except Image.UnidentifiedImageError as e:
        raise ImageError(f"the file is not an image in {_names(formats)} format") from e
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


def open_image(source, formats=IMAGE_FORMATS) -> Image.Image:
    """Bytes, a path, a binary file, a PIL image or a numpy array -> a loaded PIL image;
    encoded bytes are decoded only as one of `formats` (Pillow's names)."""
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
        return _decode(bytes(source), formats)
    if isinstance(source, (str, os.PathLike)):
        return _decode(_read_path(Path(source)), formats)
    if hasattr(source, "read"):
        return _decode(_read_stream(source), formats)
    raise ImageError(f"cannot read an image from a {type(source).__name__}")
