"""Teaching the tool your handwriting, in a real browser with the mouse: name a set,
collect digits in the guided mode, then on Draw label a drawing the model misread,
and find every sample on disk in the ImageFolder layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.app.conftest import handwriting_dir_for
from tests.app.test_browser import assert_no_error, settle
from tests.app.test_drawn_styles import draw_with_mouse
from tests.conftest import wait_for
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes
from tests.writers import HABITS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def draw_on(page, key: str, strokes) -> None:
    holder = page.locator(f".st-key-{key}")
    holder.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # let fabric.js attach its mouse handlers
    draw_with_mouse(page, holder.bounding_box(), canvas_strokes(strokes, PLACEMENTS["large-centred"]))


def wait_for_text(page, text: str, timeout_ms: int = 30_000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout_ms)


def test_collect_then_teach_a_misread_drawing(page, app_url):
    root = handwriting_dir_for(Path(os.environ["DIGIT_LAB_TEST_BROWSER_STORE"]))
    page.goto(f"{app_url}/handwriting")
    settle(page)
    name = page.get_by_role("textbox", name="Name of the new set")
    name.fill("browser-writer")
    name.press("Enter")
    settle(page)
    per_digit = page.get_by_role("spinbutton", name="Samples of each digit")
    per_digit.fill("1")
    per_digit.press("Enter")
    settle(page)
    wait_for_text(page, "0 of 10")
    for n, style in enumerate(["0", "1-plain"]):
        assert f">{n}<" in page.locator(".st-key-collect-asked").inner_html()  # the digit asked for, in large type
        draw_on(page, f"collect_canvas_{n}", STYLES[style])
        settle(page)
        page.get_by_role("button", name=f"Add this {n}").click()
        settle(page)
        wait_for_text(page, f"{n + 1} of 10")
    assert_no_error(page, "handwriting-collect")

    page.goto(f"{app_url}/draw")
    settle(page)
    draw_on(page, "canvas", HABITS["1-hat"])  # a 1 under a long flag: the default model reads 7
    predicted = page.locator(".st-key-predicted-digit")
    predicted.wait_for(timeout=30_000)
    settle(page)
    assert predicted.inner_text().strip() != "1", "the hatted 1 should be misread before it is taught"
    page.get_by_text("Teach it your handwriting").click()
    settle(page)
    page.locator(".st-key-teach_1 button").first.click()
    folder = root / "browser-writer"

    def on_disk() -> list[str]:
        return sorted(p.relative_to(folder).parts[0] for p in folder.glob("*/*.png"))

    # A loaded server may still be on the click's rerun when the page first looks quiet.
    wait_for(lambda: len(on_disk()) == 3, timeout=30)
    settle(page)
    assert_no_error(page, "handwriting-teach")
    assert on_disk() == ["0", "1", "1"], on_disk()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["canvas"] == [280, 280] and manifest["created_at"]
    page.screenshot(path="test-output/screenshots/handwriting-taught.png", full_page=True)
