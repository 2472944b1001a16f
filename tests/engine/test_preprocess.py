"""prepare_digit turns drawings, photos and odd files into MNIST-like 28x28 input."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core.engine.data import MNIST_MEAN, MNIST_STD
from core.engine.image_reading import MAX_IMAGE_BYTES, ImageError, open_image
from core.engine.ink import NoDigitError
from core.engine.preprocess import Prepared, prepare_digit

SIDE = 280  # the Draw canvas
WIDTH = 20  # stroke width

# Strokes of each digit, all in the top-left quarter of the canvas (off-centre).
STROKES = {
    "1": [[(60, 20), (85, 8), (85, 130)]],
    "0": "ellipse",
    "7": [[(15, 15), (125, 15), (55, 130)]],
}


def draw(digit: str, mode: str = "RGBA", background=(0, 0, 0, 0), ink=(255, 255, 255, 255)) -> Image.Image:
    """A drawing with a transparent background and white strokes (as the earlier canvas returned it)."""
    img = Image.new(mode, (SIDE, SIDE), background)
    d = ImageDraw.Draw(img)
    if STROKES[digit] == "ellipse":
        d.ellipse((20, 10, 110, 130), outline=ink, width=WIDTH)
    else:
        for line in STROKES[digit]:
            d.line(line, fill=ink, width=WIDTH, joint="curve")
    return img


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    w = a.astype(np.float64)
    ys, xs = np.indices(a.shape)
    return float((ys * w).sum() / w.sum()), float((xs * w).sum() / w.sum())


def bbox(a: np.ndarray) -> tuple[int, int]:
    """(height, width) of the nonzero pixels."""
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def photo(digit: str, seed: int = 0) -> Image.Image:
    """Dark ink on white paper, grey levels, a little noise and uneven light."""
    ink = np.asarray(draw(digit, "L", 255, 0), dtype=np.float32)
    rng = np.random.default_rng(seed)
    light = np.linspace(-12, 8, SIDE, dtype=np.float32)[None, :]  # brighter to the right
    noisy = ink * 0.85 + 20 + light + rng.normal(0, 4, ink.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "L")


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# ------------------------------------------------------------- drawings


@pytest.mark.parametrize("digit", ["1", "0", "7"])
def test_off_centre_drawing_becomes_mnist_like(digit):
    out = prepare_digit(png(draw(digit)))
    assert isinstance(out, Prepared)
    a = out.laid_out
    assert a.shape == (28, 28) and a.dtype == np.uint8
    cy, cx = centre_of_mass(a)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (cy, cx)
    assert abs(max(bbox(a)) - 20) <= 1, bbox(a)
    assert a.max() == 255
    assert a[0, 0] == a[0, -1] == a[-1, 0] == a[-1, -1] == 0
    assert out.tensor.shape == (1, 1, 28, 28) and out.tensor.dtype == torch.float32
    assert out.tensor[0, 0, 0, 0].item() == pytest.approx((0 - MNIST_MEAN) / MNIST_STD)
    assert out.tensor.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD)


def test_one_keeps_its_tall_thin_shape():
    h, w = bbox(prepare_digit(png(draw("1"))).laid_out)
    assert abs(h - 20) <= 1 and w < 12, (h, w)


@pytest.mark.parametrize("digit", ["1", "0", "7"])
def test_black_canvas_and_paper_photo_match_transparent_canvas(digit):
    reference = prepare_digit(png(draw(digit))).laid_out
    black = prepare_digit(png(draw(digit, "RGB", "#000000", "#ffffff"))).laid_out
    paper = prepare_digit(png(photo(digit))).laid_out
    assert mad(black, reference) < 5
    assert mad(paper, reference) < 20


def test_coloured_backgrounds_and_dark_strokes_on_transparent():
    reference = prepare_digit(draw("7")).laid_out
    yellow_on_blue = draw("7", "RGB", (0, 0, 255), (255, 255, 0))
    dark_on_transparent = draw("7", ink=(20, 20, 20, 255))
    for img in (yellow_on_blue, dark_on_transparent):
        assert mad(prepare_digit(png(img)).laid_out, reference) < 10


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "RGB", "RGBA", "I;16", "I", "F", "CMYK"])
def test_any_image_mode(mode):
    reference = prepare_digit(draw("0")).laid_out
    gray = draw("0").convert("L")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    elif mode == "F":
        img = Image.fromarray(np.asarray(gray, dtype=np.float32) / 255.0, "F")
    else:
        img = gray.convert(mode)
    assert img.mode == mode
    assert mad(prepare_digit(img).laid_out, reference) < 12


# ------------------------------------------------------------- no digit


@pytest.mark.parametrize(
    "img",
    [
        Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0)),
        Image.new("RGBA", (SIDE, SIDE), (255, 255, 255, 0)),
        Image.new("RGB", (SIDE, SIDE), "white"),
        Image.new("RGB", (SIDE, SIDE), "black"),
        Image.new("L", (1, 1), 255),
        Image.new("L", (1, 1), 0),
    ],
    ids=["empty-canvas", "empty-white-canvas", "all-white", "all-black", "1x1-white", "1x1-black"],
)
def test_no_ink_is_no_digit(img):
    with pytest.raises(NoDigitError, match="no digit found: draw or upload a digit"):
        prepare_digit(png(img))


def test_faint_smudge_and_single_speck_are_no_digit():
    smudge = np.full((SIDE, SIDE), 250, np.uint8)
    smudge[100:140, 100:140] = 245  # 5 grey levels: not ink
    speck = np.zeros((SIDE, SIDE), np.uint8)
    speck[50, 50] = 255
    for a in (smudge, speck):
        with pytest.raises(NoDigitError):
            prepare_digit(a)


def test_blank_noisy_photo_is_no_digit():
    rng = np.random.default_rng(1)
    paper = np.clip(rng.normal(230, 6, (SIDE, SIDE)), 0, 255).astype(np.uint8)
    with pytest.raises(NoDigitError):
        prepare_digit(paper)


# ------------------------------------------------------------- bad files


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose header says width x height (valid CRC)."""
    data = bytearray(png(Image.new("L", (8, 8))))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"this is not an image", png(draw("7"))[:400], b"\x89PNG\r\n\x1a\n"],
    ids=["empty", "text", "truncated-png", "signature-only"],
)
def test_unreadable_bytes_are_image_errors(data):
    with pytest.raises(ImageError):
        prepare_digit(data)


@pytest.mark.parametrize("size", [(20_000, 20_000), (6_000, 6_000)])
def test_huge_header_is_refused_fast(size):
    start = time.perf_counter()
    with pytest.raises(ImageError, match="pixels"):
        open_image(_png_claiming(*size))
    assert time.perf_counter() - start < 5, "refused before decoding, not after a hang"


def test_oversize_bytes_and_file_are_refused(tmp_path):
    big = bytes(MAX_IMAGE_BYTES + 1)
    with pytest.raises(ImageError, match="MB"):
        open_image(big)
    path = tmp_path / "big.png"
    path.write_bytes(big)
    with pytest.raises(ImageError, match="MB"):
        open_image(path)
    with pytest.raises(ImageError, match="MB"):
        open_image(io.BytesIO(big))


def test_missing_file_and_unsupported_type_are_image_errors(tmp_path):
    with pytest.raises(ImageError):
        open_image(tmp_path / "missing.png")
    with pytest.raises(ImageError):
        open_image(12345)
    with pytest.raises(ImageError):
        open_image(np.zeros((4, 4, 2), np.uint8))


def test_animated_gif_uses_first_frame():
    first, second = draw("7").convert("L"), draw("1").convert("L")
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    out = prepare_digit(buf.getvalue()).laid_out
    assert mad(out, prepare_digit(first).laid_out) < 3
    assert mad(out, prepare_digit(second).laid_out) > 20


# ------------------------------------------------------------- input kinds


def test_array_path_file_and_pil_inputs_agree(tmp_path):
    img = draw("0")
    reference = prepare_digit(png(img)).laid_out
    path = tmp_path / "zero.png"
    img.save(path)
    rgba = np.asarray(img)
    assert rgba.shape == (SIDE, SIDE, 4) and rgba.dtype == np.uint8
    for source in (rgba, rgba.astype(np.float32) / 255.0, path, str(path), io.BytesIO(png(img)), img):
        assert np.array_equal(prepare_digit(source).laid_out, reference), type(source)


def test_thick_strokes_are_thinned_into_mnists_range_and_thin_ones_left_alone():
    """A small 5 drawn with a 35 px brush comes out two to three times thicker than MNIST's
    strokes; the drawing path thins it into MNIST's range. A thin drawing is untouched."""
    from core.engine.image_reading import open_image
    from core.engine.ink import ink_map
    from core.engine.layout import mnist_layout
    from core.engine.preprocess import prepare_digit
    from core.engine.strokes import MNIST_STROKE_P95
    from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, render

    thick = prepare_digit(render(canvas_strokes(STYLES["5"], (25, 25, 70, 70)), 35))
    assert thick.stroke_drawn > 2 * MNIST_STROKE_P95 - 1 and thick.stroke_seen <= MNIST_STROKE_P95 + 0.5
    thin = render(canvas_strokes(STYLES["5"], PLACEMENTS["large-centred"]), 12)
    ink = ink_map(open_image(thin))
    assert np.array_equal(mnist_layout(ink), mnist_layout(ink, match_strokes=False))
    assert prepare_digit(thin).stroke_drawn == prepare_digit(thin).stroke_seen
