"""Learning as you draw, in a real browser with the mouse: a habit the default model
misreads, one click on the digit meant, and the next drawing of the same habit is
read right by your model, whose run has grown an epoch. Also: every teach button's
label is readable at the widths people use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.runs.snapshots import list_snapshots
from tests.app.test_browser import assert_no_error, settle
from tests.app.test_browser_handwriting import wait_for_text
from tests.app.test_drawn_styles import draw_with_mouse
from tests.handwriting import canvas_strokes
from tests.writers import HABITS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _draw(page, key: str, placement) -> None:
    holder = page.locator(f".st-key-{key}")
    holder.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    draw_with_mouse(page, holder.bounding_box(), canvas_strokes(HABITS["1-hat"], placement))


def _answer(page) -> str:
    predicted = page.locator(".st-key-predicted-digit")
    predicted.wait_for(timeout=30_000)
    settle(page)
    return predicted.inner_text().strip()


def _open_teach_panel(page, set_name: str) -> None:
    page.get_by_text("Teach it your handwriting").click()
    settle(page)
    name = page.get_by_role("textbox", name="Name of the new set")
    if name.count():
        name.fill(set_name)
        name.press("Enter")
        settle(page)


def test_a_correction_teaches_the_next_drawing(page, app_url):
    page.goto(f"{app_url}/draw")
    settle(page)
    _draw(page, "canvas", (40.0, 40.0, 200.0, 200.0))
    assert _answer(page) != "1", "the hatted 1 should be misread before it is taught"
    _open_teach_panel(page, "learn-as-i-draw")
    page.locator(".st-key-teach_1 button").first.click()
    settle(page)
    wait_for_text(page, "learned from 1 of your digits", timeout_ms=60_000)
    # The same habit, drawn again a little smaller and elsewhere: read by your model.
    _draw(page, "canvas-1", (60.0, 50.0, 180.0, 180.0))
    assert _answer(page) == "1"
    answer_on_canvas = page.locator(".st-key-canvas-1 .answer")
    answer_on_canvas.wait_for(timeout=10_000)
    assert "1" in answer_on_canvas.inner_text()
    assert_no_error(page, "draw-learned")
    runs = Path(os.environ["DIGIT_LAB_TEST_BROWSER_STORE"])
    learning = [d for d in runs.iterdir() if (d / "learned.json").is_file()]
    assert len(learning) == 1 and list_snapshots(learning[0])[-1] >= 1


@pytest.mark.parametrize("width", [1280, 1400, 1920])
def test_every_teach_button_label_is_readable(browser, app_url, width):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/draw")
        settle(page)
        _draw(page, "canvas", (40.0, 40.0, 200.0, 200.0))
        _answer(page)
        _open_teach_panel(page, "learn-as-i-draw")
        for key in ["teach_right"] + [f"teach_{d}" for d in range(10)]:
            button = page.locator(f".st-key-{key} button").first
            text = button.inner_text().strip()
            assert text, f"{key} shows no label at {width} px"
            clipped = button.evaluate("""b => { const p = b.querySelector('p') || b;
                return p.scrollWidth > p.clientWidth + 1 || b.scrollWidth > b.clientWidth + 1; }""")
            assert not clipped, f"{key} ({text!r}) is cut off at {width} px"
        assert_no_error(page, f"draw-teach-buttons-{width}")
    finally:
        context.close()
