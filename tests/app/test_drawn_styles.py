"""Handwriting styles drawn with the mouse on the Draw page, in a real browser.

For each brush width, every style x placement of tests/handwriting.py is drawn
stroke by stroke with the mouse on the canvas, the prediction is read off the
page, and the canvas is cleared with its Clear button. Each brush is one test
that collects every (style, placement) -> predicted and fails at the end with
the full list of misses, so one run shows all of them.

Misreads are the model's (or the drawing path's): the test checks its own
mechanics separately (the slider's value, an empty canvas before each drawing,
the pixels on the canvas matching the intended digit) and fails on those with
a different message. Each miss's canvas is saved to test-output/screenshots/.
"""

from __future__ import annotations

import base64
import io
import math
import time
from urllib.parse import urljoin

import numpy as np
import pytest
from PIL import Image

from core.engine.preprocess import prepare_digit
from core.engine.strokes import stroke_width
from tests.app.test_browser import SHOTS, assert_no_error, settle
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, digit_of, render

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BRUSHES = (8, 35)
SLIDER_MIN = 4  # the "Brush width" slider's minimum: Home puts it there
# While the button is down the mouse moves in steps of at most MOUSE_STEP_PX, and
# a curve's points closer than MOUSE_MIN_PX to the last one sent are skipped
# (fabric.js smooths the path it records, so 4-8 px chords still draw a curve).
MOUSE_STEP_PX = 8
MOUSE_MIN_PX = 4
# The 28x28 "what the model saw" image on the page, a JPEG, must be this close
# (mean absolute difference in grey levels; the same drawing differs by < 0.1, one
# stroke more or less by 9 or more) to the one computed here from the
# canvas pixels before the prediction next to it is taken as the drawing's.
SAW_TOLERANCE = 2.0
EMPTY_TEXT = "Draw a digit"
# The canvas pixels must overlap the same strokes rendered offline at least this
# much (intersection over union of the ink), or the mouse did not draw the style.
MIN_OVERLAP = 0.6


def set_brush(page, width: int) -> None:
    """Set the "Brush width" slider with the keyboard (focus the thumb, Home, ArrowRight
    width - min times) and wait until the slider shows it and the app has rerun."""
    thumb = page.get_by_role("slider", name="Brush width")
    thumb.focus()
    page.keyboard.press("Home")
    for _ in range(width - SLIDER_MIN):
        page.keyboard.press("ArrowRight")
    shown = page.locator('.st-key-draw_brush [data-testid="stSliderThumbValue"]')
    deadline = time.time() + 10
    while shown.inner_text().strip() != str(width) and time.time() < deadline:
        page.wait_for_timeout(100)
    assert shown.inner_text().strip() == str(width), f"slider shows {shown.inner_text()!r}, wanted {width}"
    assert thumb.get_attribute("aria-valuetext") == str(width)
    settle(page)


def canvas_box(page) -> dict:
    holder = page.locator(".st-key-canvas")
    holder.wait_for(timeout=30_000)
    return holder.bounding_box()


def draw_with_mouse(page, box: dict, strokes) -> None:
    """Each stroke: move to its start, press, follow its points in short mouse
    moves (at most MOUSE_STEP_PX apart), release."""
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        px, py = x0, y0
        for i, (x, y) in enumerate(stroke[1:], 1):
            gap = math.dist((px, py), (x, y))
            if gap < MOUSE_MIN_PX and i < len(stroke) - 1:
                continue
            steps = max(1, math.ceil(gap / MOUSE_STEP_PX))
            page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
            px, py = x, y
        page.mouse.up()


def canvas_pixels(page) -> np.ndarray:
    """The drawing as the canvas holds it: 280x280 grey levels, once the browser has
    painted everything (on animation frames)."""
    layer = page.locator(".st-key-canvas canvas")
    previous = None
    for _ in range(20):
        url = layer.evaluate("""c => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(
            () => done(c.toDataURL('image/png')))))""")
        if url == previous:
            break
        previous = url
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")
    a = np.asarray(img, dtype=np.float32)
    return a[..., 0] * (a[..., 3] / 255.0)  # white ink, whatever the layer's background


def overlap(drawn: np.ndarray, intended: np.ndarray) -> float:
    a, b = drawn > 127, intended > 127
    return float((a & b).sum()) / max(1, int((a | b).sum()))


def wait_empty(page) -> None:
    """Until the page says the canvas is empty and shows no prediction."""
    page.get_by_text(EMPTY_TEXT).first.wait_for(timeout=30_000)
    page.locator(".st-key-predicted-digit").wait_for(state="detached", timeout=30_000)


def clear_canvas(page, box: dict) -> None:
    """Click the canvas's Clear button, wait for the empty page."""
    page.locator(".st-key-canvas").get_by_role("button", name="Clear").click()
    wait_empty(page)
    assert canvas_pixels(page).max() < 1, "the canvas still holds ink after the reset"


def wait_for_brush(page, box: dict, width: int, timeout: float = 20) -> None:
    """Until the canvas draws with the slider's width: the component gets the new width a
    moment after the page has rerun, so a probe line is drawn, measured and cleared."""
    deadline, drawn = time.time() + timeout, 0.0
    while time.time() < deadline:
        draw_with_mouse(page, box, [[(60.0, 140.0), (220.0, 140.0)]])
        drawn = stroke_width(canvas_pixels(page))
        clear_canvas(page, box)
        if abs(drawn - width) <= 0.25 * width:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the canvas still draws {drawn:.1f} px wide after the brush was set to {width}")


def shown_saw(page) -> np.ndarray | None:
    """The page's "what the model saw" image as 28x28 grey levels, or None while there is none."""
    try:
        src = page.locator('[data-testid="stImage"] img').first.get_attribute("src", timeout=1000)
        body = page.request.get(urljoin(page.url, src)).body()
        a = np.asarray(Image.open(io.BytesIO(body)).convert("L"), dtype=np.float32)
    except Exception:  # no image yet, or replaced while being read
        return None
    n = a.shape[0] // 28
    return a.reshape(28, n, 28, n).mean(axis=(1, 3)) if a.shape == (28 * n, 28 * n) else None


def running(page) -> bool:
    return page.locator('[data-testid="stStatusWidget"]').count() > 0


def read_prediction(page, drawn: np.ndarray, timeout: float = 30) -> str:
    """The digit the page predicts for the drawing now on the canvas. Every stroke's
    mouse-up reruns the app; the prediction counts once the 28x28 image shown beside
    it is the one the drawing path makes of the whole drawing and the app is idle."""
    rgba = np.dstack([np.repeat(drawn.round().astype(np.uint8)[..., None], 3, axis=2),
                      np.full(drawn.shape, 255, np.uint8)])
    expected = prepare_digit(rgba).laid_out.astype(np.float32)
    predicted = page.locator(".st-key-predicted-digit")
    predicted.wait_for(timeout=timeout * 1000)
    deadline, diff = time.time() + timeout, None
    while time.time() < deadline:
        saw = shown_saw(page)
        diff = None if saw is None else float(np.abs(saw - expected).mean())
        if diff is not None and diff < SAW_TOLERANCE and not running(page):
            text = predicted.inner_text().strip()
            if text.isdigit():  # a rerun can leave the element empty for a moment
                return text
        page.wait_for_timeout(100)
    raise AssertionError(f"the page never showed the prediction for the whole drawing (last difference {diff})")


@pytest.mark.parametrize("brush", BRUSHES)
def test_drawn_styles_are_read_as_their_digit(page, app_url, brush):  # noqa: F811 (fixtures)
    started = time.time()
    page.goto(f"{app_url}/draw")
    settle(page)
    set_brush(page, brush)
    wait_empty(page)
    box = canvas_box(page)
    page.wait_for_timeout(1000)  # let fabric.js attach its mouse handlers
    wait_for_brush(page, box, brush)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob(f"drawn-{brush}-*.png"):  # a miss's canvas from an earlier run
        old.unlink()

    results, mechanics, fits, widths = {}, [], [], []
    for style, unit_strokes in STYLES.items():
        for placement, place in PLACEMENTS.items():
            name = f"{style}/{placement}"
            strokes = canvas_strokes(unit_strokes, place)
            draw_with_mouse(page, box, strokes)
            drawn = canvas_pixels(page)
            predicted = read_prediction(page, drawn)
            results[style, placement] = predicted
            # The mechanics: the canvas holds the intended digit at the set brush width.
            fit = overlap(drawn, render(strokes, brush)[..., 0].astype(np.float32))
            fits.append(fit)
            if fit < MIN_OVERLAP:
                mechanics.append(f"{name}: canvas overlaps the intended strokes by {fit:.0%}")
            if style == "1-plain" and placement == "large-centred":  # round caps matter less on a long line
                width = stroke_width(drawn)
                widths.append(width)
                if abs(width - brush) > 0.25 * brush:
                    mechanics.append(f"{name}: canvas stroke width {width:.1f} px, brush {brush}")
            if predicted != str(digit_of(style)):
                shot = SHOTS / f"drawn-{brush}-{style}-{placement}.png"
                page.locator(".st-key-canvas").screenshot(path=str(shot))
            if style == "8" and placement == "large-centred":
                assert_no_error(page, f"drawn-styles-brush-{brush}")
            clear_canvas(page, box)

    misses = [f"{style}/{placement}/{brush} -> {got}" for (style, placement), got in results.items()
              if got != str(digit_of(style))]
    print(f"\nbrush {brush}: {len(results) - len(misses)}/{len(results)} read right in {time.time() - started:.0f} s; "
          f"canvas vs intended ink overlap min {min(fits):.0%}, drawn stroke width {widths[0]:.1f} px")
    for miss in misses:
        print(f"  miss {miss}")
    assert not mechanics, "test mechanics failed:\n" + "\n".join(mechanics)
    assert not misses, f"brush {brush}: {len(misses)} of {len(results)} misread:\n" + "\n".join(misses)
