"""What a crafted link or a crafted browser message can send the app."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from dashboard.drawing_canvas import SIDE, decode_drawing
from dashboard.widgets import plain
from tests.app.test_pages import run_page, texts


def _png(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 0, 0, 255)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_the_canvas_message_is_decoded_only_when_it_is_a_drawing():
    drawing = decode_drawing(_png(SIDE, SIDE))
    assert isinstance(drawing, np.ndarray) and drawing.shape == (SIDE, SIDE, 4)
    for hostile in (None, 42, ["x"], "data:image/png;base64,not base64!", "data:text/html;base64,PGI+",
                    "data:image/png;base64," + base64.b64encode(b"GIF89a not a png").decode(),
                    _png(4000, 4000), "data:image/png;base64," + "A" * (5 * 2**20)):
        assert decode_drawing(hostile) is None


def test_link_texts_are_shown_as_plain_text(store):
    crafted = "x](https://evil.example/p.png) ![i](https://evil.example/i.png) :material/home: **bold**"
    escaped = plain(crafted, 200)
    assert "\\]\\(" in escaped and "\\!\\[" in escaped and "\\*\\*" in escaped and "\\:material" in escaped
    at = run_page("train", run=crafted)
    assert not at.exception
    assert all("](" not in t for t in texts(at, "warning"))


def test_a_run_id_with_a_newline_is_not_a_run_id(completed_store):
    from core.runs.store import RunStoreError, is_valid_run_id, run_path

    assert not is_valid_run_id("20260101-000000-completed-0001\n")
    try:
        run_path(completed_store, "20260101-000000-completed-0001\n")
        raise AssertionError("accepted")
    except RunStoreError:
        pass
    from dashboard.cached import fresh_run

    assert fresh_run("../../etc") is None and fresh_run("20260101-000000-completed-0001\n") is None
