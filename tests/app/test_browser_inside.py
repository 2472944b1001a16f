"""Inside the network in a real browser: drag the epoch slider on Filters and watch
the kernels change; draw a digit on Draw with two runs picked side by side."""

from __future__ import annotations

import json
import time

import pytest

from tests.app.test_browser import assert_no_error, settle
from tests.app.test_drawn_styles import canvas_box, canvas_pixels, draw_with_mouse, read_prediction, wait_empty
from tests.app.test_inside_pages import RELU, TANH
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The z values of the first conv layer's kernel figure, as plain nested lists: plotly
# keeps data and layout on its graph div, and its _fullData holds z decoded (the spec
# sends it as a typed array, rows of which may be typed arrays too).
FIRST_KERNELS = """() => {
    const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] *')].filter(e => e.data && e.layout);
    const plot = plots.find(g => JSON.stringify(g.layout.title || '').includes('conv1'));
    const z = plot && plot._fullData && plot._fullData[0] && plot._fullData[0].z;
    return z ? JSON.stringify(Array.from(z, row => Array.from(row))) : JSON.stringify(plots.map(g => g.layout.title));
}"""


def first_kernels(page, unlike: str | None = None, timeout: float = 30) -> str:
    """FIRST_KERNELS once the figure is drawn (a fresh server can settle before plotly has
    attached its data to the graph div), and redrawn when `unlike` is the old figure's."""
    deadline, found = time.time() + timeout, ""
    while time.time() < deadline:
        found = page.evaluate(FIRST_KERNELS)
        if found.startswith("[[") and found != unlike:
            break
        page.wait_for_timeout(200)
    return found


def epoch_shown(page) -> str:
    return page.get_by_role("slider", name="Epoch").first.get_attribute("aria-valuetext") or ""


def test_dragging_the_epoch_slider_changes_the_kernels(page, comparison_app_url):
    page.goto(f"{comparison_app_url}/filters?run={RELU}")
    settle(page)
    assert_no_error(page, "filters-epoch-3")
    assert "3" in epoch_shown(page)  # it starts at the kept epoch
    trained = first_kernels(page)
    assert trained.startswith("[[")

    # The slider's role belongs to a hidden range input; the thumb one sees is its grandparent.
    thumb = page.get_by_role("slider", name="Epoch").first.locator("xpath=../..")
    box = thumb.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] - 300, y, steps=20)
    page.mouse.move(5, y, steps=20)  # past the track's left end: epoch 0
    page.mouse.up()
    deadline = time.time() + 30
    while "0" not in epoch_shown(page) and time.time() < deadline:
        page.wait_for_timeout(100)
    settle(page)
    assert epoch_shown(page).startswith("0"), epoch_shown(page)
    initial = first_kernels(page, unlike=trained)
    assert initial.startswith("[[") and initial != trained  # the initialisation's kernels, not the trained ones
    assert_no_error(page, "filters-epoch-0")


def test_draw_a_digit_with_two_runs_side_by_side(page, comparison_app_url):
    page.goto(f"{comparison_app_url}/draw?runs={RELU},{TANH}")
    settle(page)
    wait_empty(page)
    box = canvas_box(page)
    page.wait_for_timeout(1000)  # let fabric.js attach its mouse handlers
    draw_with_mouse(page, box, canvas_strokes(STYLES["7-plain"], PLACEMENTS["large-centred"]))
    assert read_prediction(page, canvas_pixels(page)) == "7"  # the default model, above
    answers = {}
    deadline = time.time() + 60
    while len(answers) < 2 and time.time() < deadline:
        for run_id in (RELU, TANH):
            card = page.locator(f".st-key-draw_compare_run_{run_id}")
            value = card.locator('[data-testid="stMetricValue"]')
            if value.count() and value.first.inner_text().strip().isdigit():
                answers[run_id] = value.first.inner_text().strip()
        page.wait_for_timeout(200)
    settle(page)
    assert set(answers) == {RELU, TANH}, answers
    for run_id in (RELU, TANH):  # each card shows its probabilities and its attribution map
        card = page.locator(f".st-key-draw_compare_run_{run_id}")
        assert card.locator(".probability-bars").count() == 1
        card.locator('[data-testid="stImage"] img').first.wait_for(timeout=30_000)
        assert "rather than" in card.inner_text()
    assert_no_error(page, "draw-side-by-side")


# The map's dots as plotly drew them: every test digit's (x, y), class by class, and the
# names of the traces (the drawing's is "your drawing").
MAP_POINTS = """() => {
    const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] *')].filter(e => e.data && e.layout);
    const plot = plots.find(g => (g.data || []).some(t => t.name === '0' && t.type === 'scattergl'));
    if (!plot || !plot._fullData) return null;
    return JSON.stringify({names: plot._fullData.map(t => t.name),
                           xy: plot._fullData.filter(t => /^[0-9]$/.test(t.name))
                                             .map(t => [Array.from(t.x), Array.from(t.y)])});
}"""


# Where on the screen the first test digit of class 1 is drawn.
A_POINT_OF_THE_ONES = """() => {
    const plot = [...document.querySelectorAll('[data-testid="stPlotlyChart"] *')]
        .find(g => g._fullData && g._fullData.some(t => t.name === '1' && t.type === 'scattergl'));
    const ones = plot._fullData.find(t => t.name === '1');
    const x = plot._fullLayout.xaxis, y = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
    return [box.left + x._offset + x.l2p(ones.x[0]), box.top + y._offset + y.l2p(ones.y[0])];
}"""


def map_points(page, unlike: str | None = None, timeout: float = 120) -> dict:
    deadline, found = time.time() + timeout, None
    while time.time() < deadline:
        found = page.evaluate(MAP_POINTS)
        if found and found != unlike:
            return json.loads(found) | {"raw": found}
        page.wait_for_timeout(300)
    raise AssertionError(f"no map drawn (last seen: {found and found[:200]})")


def test_the_map_moves_with_the_epoch_slider_and_a_drawing_lands_on_it(page, comparison_app_url):
    page.goto(f"{comparison_app_url}/map?run={RELU}")
    settle(page, timeout=180)  # the first visit makes the maps of epochs 0 to 3
    assert_no_error(page, "map-epoch-3")
    trained = map_points(page)
    assert sum(len(x) for x, _ in trained["xy"]) == 5000 and "misread" in " ".join(trained["names"])
    assert "5,000 MNIST test digits" in page.inner_text("body")
    page.mouse.click(*page.evaluate(A_POINT_OF_THE_ONES))  # a click shows that digit and its neighbours
    deadline = time.time() + 30
    while "nearest among the map's digits" not in page.inner_text("body") and time.time() < deadline:
        page.wait_for_timeout(200)
    assert "nearest among the map's digits" in page.inner_text("body")
    settle(page)

    thumb = page.get_by_role("slider", name="Epoch").first.locator("xpath=../..")
    box = thumb.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(5, y, steps=20)  # past the track's left end: epoch 0
    page.mouse.up()
    deadline = time.time() + 30
    while not epoch_shown(page).startswith("0") and time.time() < deadline:
        page.wait_for_timeout(100)
    settle(page)
    initial = map_points(page, unlike=trained["raw"])
    assert initial["xy"] != trained["xy"]  # the initialisation's map, not the trained one
    assert_no_error(page, "map-epoch-0")

    page.goto(f"{comparison_app_url}/draw?run={RELU}")
    settle(page)
    wait_empty(page)
    box = canvas_box(page)
    page.wait_for_timeout(1000)
    draw_with_mouse(page, box, canvas_strokes(STYLES["7-plain"], PLACEMENTS["large-centred"]))
    deadline = time.time() + 60
    while "it sits with these" not in page.inner_text("body") and time.time() < deadline:
        page.wait_for_timeout(200)
    settle(page)
    assert "it sits with these" in page.inner_text("body")
    assert "your drawing" in map_points(page)["names"]  # the map kept on the Map page, with its marker
    assert_no_error(page, "draw-on-the-map")
