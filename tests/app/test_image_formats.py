"""Every path that decodes an image decodes only the formats it names: the canvas and
Draw's answer route PNG, Draw's upload PNG and JPEG, handwriting imports and the
command line the five the docs list. A file of another kind under a PNG name (ICO,
EPS: Pillow would hand EPS to Ghostscript) is refused with a reason, never decoded."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.engine.image_reading import ImageError, open_image
from core.predict import model_path
from core.runs.checkpoint import load_model
from core.runs.handwriting_sets import HandwritingError, HandwritingSet
from dashboard import draw_panel, live_answer
from dashboard.drawing_canvas import decode_drawing
from tests.app.test_live_answer import post

ROOT = Path(__file__).resolve().parents[2]


def encoded(kind: str) -> bytes:
    """A white 7-ish stroke on black, saved as `kind` (Pillow's name)."""
    a = np.zeros((64, 64), dtype=np.uint8)
    a[10:14, 12:52] = 255
    a[14:56, 44:48] = 255
    buffer = io.BytesIO()
    Image.fromarray(a).convert("RGB").save(buffer, format=kind)
    return buffer.getvalue()


def png_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


@pytest.mark.parametrize("kind", ["ICO", "EPS", "GIF"])
def test_the_canvas_decodes_png_only(kind):
    assert decode_drawing(png_url(encoded("PNG"))) is not None
    assert decode_drawing(png_url(encoded(kind))) is None


def test_the_answer_route_refuses_another_format_under_a_png_url():
    model = load_model(model_path(None))[0]
    token = live_answer.token_for(model, 28)
    status, reply = post(json.dumps({"token": token, "png": png_url(encoded("ICO"))}).encode())
    assert status == 400 and reply["error"] == "not a drawing"


class _Upload:
    def __init__(self, raw: bytes):
        self.raw = raw

    def getvalue(self) -> bytes:
        return self.raw


@pytest.mark.parametrize("kind,readable", [("PNG", True), ("JPEG", True), ("GIF", False), ("ICO", False)])
def test_draws_upload_decodes_what_it_lists(kind, readable):
    assert (draw_panel.read_upload(_Upload(encoded(kind))) is not None) == readable


def test_every_decoder_refuses_formats_outside_its_list():
    with pytest.raises(ImageError, match="not an image in PNG, JPEG, GIF, BMP or WebP format"):
        open_image(encoded("ICO"))
    with pytest.raises(ImageError, match="not an image in PNG or JPEG format"):
        open_image(encoded("BMP"), ("PNG", "JPEG"))


def test_a_handwriting_import_refuses_an_ico_named_png(tmp_path):
    hw = HandwritingSet.create("mine", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("1/a.png", encoded("PNG"))
        z.writestr("7/b.png", encoded("ICO"))
    with pytest.raises(HandwritingError, match="7/b.png"):
        hw.import_zip(buffer.getvalue())
    assert hw.samples() == []  # all or nothing


def test_the_command_line_refuses_an_eps_named_png(tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(encoded("EPS"))
    out = subprocess.run([sys.executable, "-m", "core.predict", str(path)], cwd=ROOT, capture_output=True,
                         text=True)
    assert "Traceback" not in out.stderr
    assert "not an image in PNG, JPEG, GIF, BMP or WebP format" in out.stdout + out.stderr
