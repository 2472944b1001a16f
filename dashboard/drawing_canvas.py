"""The drawing canvas of Draw and of the Handwriting page's collect mode: a small
Streamlit component (components v2) that sends the drawing the moment the pen
lifts. streamlit-drawable-canvas, used before, waits 200 ms after each change
before it sends (a debounce in its frontend), more than the page's whole budget
from pen lift to prediction."""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image, UnidentifiedImageError

SIDE = 280  # px; the drawing path lays any size out for the model
ASSETS = Path(__file__).parent / "assets"
_PNG_PREFIX = "data:image/png;base64,"
_component = st.components.v2.component(
    "digit_lab.drawing_canvas",
    html=("<canvas style='touch-action:none;cursor:crosshair;display:block'></canvas>"
          "<div class='tools'><button class='undo' type='button'>Undo</button>"
          "<button class='clear' type='button'>Clear</button><span class='answer' aria-live='polite'></span></div>"),
    css=".tools{margin-top:.4rem;display:flex;gap:.5rem;align-items:center} .answer{margin-left:.5rem;"
        "font-weight:700;font-size:1.1rem} button{font:inherit;padding:.2rem .8rem;"
        "border-radius:.4rem;border:1px solid rgba(128,128,128,.5);background:transparent;color:inherit;"
        "cursor:pointer}",
    js=(ASSETS / "drawing_canvas.js").read_text(),
)


def drawing_canvas(key: str, brush: int, answer: dict | None = None) -> np.ndarray | None:
    """The drawing as an RGBA array (white ink on opaque black, SIDE x SIDE), or None
    while the canvas is empty. `answer` ({"url", "token"}, dashboard.live_answer) has the
    canvas show the digit on pen-up itself."""
    data = {"side": SIDE, "brush": int(brush), "answer": answer}
    result = _component(key=key, data=data, default={"png": None}, on_png_change=lambda: None)
    return decode_drawing(result.get("png"))


def decode_drawing(url) -> np.ndarray | None:
    """A data URL from the canvas -> RGBA array; None for anything else (a browser sends
    what the component wrote, but a crafted message must not crash the page)."""
    if not isinstance(url, str) or not url.startswith(_PNG_PREFIX) or len(url) > 4 * 2**20:
        return None
    try:
        raw = base64.b64decode(url[len(_PNG_PREFIX):], validate=True)
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:  # what the URL says, no other decoder
            if image.width * image.height > 4 * SIDE * SIDE:
                return None
            return np.asarray(image.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        return None
