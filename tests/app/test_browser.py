"""The dashboard in a real browser: Playwright driving Debian's Chromium against
a real `streamlit run`. Screenshots of every page land in test-output/screenshots/."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = PROJECT_ROOT / "test-output" / "screenshots"
PAGES = {"home": "", "train": "train", "runs": "runs", "sweeps": "sweeps", "evaluate": "evaluate",
         "filters": "filters", "map": "map", "draw": "draw"}


def settle(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished the script and drawn everything: no
    "running" status, no loading skeletons, every plotly chart rendered."""
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout * 1000)  # every page has a title
    deadline, quiet_since = time.time() + timeout, None
    while time.time() < deadline:
        busy = page.evaluate("""() =>
            document.querySelectorAll('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').length > 0
            || [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                .some(c => !c.querySelector('.main-svg'))""")
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.0:
            return
        page.wait_for_timeout(200)


def assert_no_error(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception on {name}"
    assert "Traceback" not in page.inner_text("body"), f"traceback on {name}"


def visit_all(page, app_url: str, names, shot_prefix: str) -> None:
    """Open each named page, let it settle, screenshot it and check it shows no error."""
    for name in names:
        page.goto(f"{app_url}/{PAGES[name]}")
        settle(page)
        assert_no_error(page, f"{shot_prefix}-{name}")


def test_every_page_opens_without_error(page, app_url):
    visit_all(page, app_url, PAGES, "empty")
    page.goto(f"{app_url}/")
    settle(page)
    assert "Digit Lab" in page.inner_text("body")


def open_advanced(page) -> None:
    """The Train form keeps the less common options under a closed "Advanced" section."""
    page.get_by_text("Advanced", exact=True).click()
    page.get_by_role("textbox", name="Run name").wait_for()


def test_launch_a_run_and_watch_it_complete(page, app_url):
    page.goto(f"{app_url}/train")
    settle(page)
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="fast", exact=True).click()
    settle(page)
    open_advanced(page)
    page.get_by_role("spinbutton", name="Train limit").fill("6000")
    page.get_by_role("textbox", name="Run name").fill("browser run")
    clicked = time.time()
    page.get_by_role("button", name="Start training").click()
    # Curves appear after the first epoch; the run is one epoch, so they come with "completed".
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=180_000)
    first_curve = time.time() - clicked
    assert_no_error(page, "train-running")
    page.get_by_text("completed").first.wait_for(timeout=180_000)
    settle(page)
    print(f"launch -> first curve point: {first_curve:.1f} s")
    assert_no_error(page, "train-completed")
    visit_all(page, app_url, ("runs", "evaluate", "filters"), "one-run")
    page.goto(f"{app_url}/runs")
    settle(page)
    assert "1 of 1 runs" in page.inner_text("body")


def test_enter_in_a_form_field_launches_nothing(page, app_url):
    """Typing a value and pressing Enter must not submit: only the buttons start work."""
    from core.runs.store import list_runs
    from core.runs.sweeps.record import sweeps_dir_for

    runs_dir = Path(os.environ["DIGIT_LAB_TEST_BROWSER_STORE"])
    runs_before = {r.run_id for r in list_runs(runs_dir)}
    sweeps_before = set(sweeps_dir_for(runs_dir).glob("*")) if sweeps_dir_for(runs_dir).exists() else set()
    page.goto(f"{app_url}/train")
    settle(page)
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("3")
    epochs.press("Enter")
    open_advanced(page)
    page.get_by_role("textbox", name="Run name").fill("not yet")
    page.get_by_role("textbox", name="Run name").press("Enter")
    page.goto(f"{app_url}/sweeps")
    settle(page)
    values = page.get_by_role("textbox", name="activation values")
    values.fill("relu,tanh")
    values.press("Enter")
    page.get_by_role("spinbutton", name="Epochs").press("Enter")
    page.wait_for_timeout(3000)  # time for a (wrongly) launched child to reserve its folder
    settle(page)
    assert_no_error(page, "enter-launches-nothing")
    assert {r.run_id for r in list_runs(runs_dir)} == runs_before
    assert (set(sweeps_dir_for(runs_dir).glob("*")) if sweeps_dir_for(runs_dir).exists() else set()) == sweeps_before


STROKES = {
    "1": [[(140, 40), (140, 240)]],
    "7": [[(60, 50), (210, 50), (110, 240)]],
}


def draw(page, strokes) -> None:
    # The canvas component renders in an isolated shadow root inside the
    # element keyed "canvas"; its drawing surface starts at the top-left corner.
    holder = page.locator(".st-key-canvas")
    holder.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # let fabric.js attach its mouse handlers
    box = holder.bounding_box()
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=25)
        page.mouse.up()


@pytest.mark.parametrize("digit", ["1", "7"])
def test_draw_a_digit_and_see_it_predicted(page, app_url, digit):
    page.goto(f"{app_url}/draw")
    settle(page)
    assert "Draw a digit" in page.inner_text("body")
    draw(page, STROKES[digit])
    # The canvas's own answer (the server's answer route) comes first, before the rerun.
    answer = page.locator(".st-key-canvas .answer")
    expect(answer).to_have_text(re.compile(rf"^reads as {digit} · \d+%$"), timeout=30_000)
    predicted = page.locator(".st-key-predicted-digit")
    predicted.wait_for(timeout=30_000)
    settle(page)
    assert predicted.inner_text().strip() == digit
    confidence = page.locator('[data-testid="stMetric"]').filter(has_text="Confidence").locator(
        '[data-testid="stMetricValue"]').inner_text()
    quick = float(re.search(r"(\d+)%$", answer.inner_text()).group(1))
    assert abs(quick - float(confidence.rstrip("%"))) <= 1, f"the canvas says {quick}%, the page {confidence}"
    assert_no_error(page, f"draw-{digit}")


def launch_from(page, app_url: str, name: str) -> None:
    """Fill the Train form with a tiny one-epoch run and press Start."""
    page.goto(f"{app_url}/train")
    settle(page)
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="fast", exact=True).click()
    settle(page)
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("1")
    open_advanced(page)
    page.get_by_role("spinbutton", name="Train limit").fill("3000")
    page.get_by_role("textbox", name="Run name").fill(name)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/train?run=*", timeout=30_000)


def test_three_runs_from_two_tabs_all_complete_in_their_own_folders(browser, app_url):
    from core.runs.states import FINAL_STATES
    from core.runs.store import list_runs

    runs_dir = Path(os.environ["DIGIT_LAB_TEST_BROWSER_STORE"])
    before = {r.run_id for r in list_runs(runs_dir)}
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    tab_a, tab_b = context.new_page(), context.new_page()
    launch_from(tab_a, app_url, "tab a")
    launch_from(tab_b, app_url, "tab b one")
    launch_from(tab_b, app_url, "tab b two")
    deadline = time.time() + 300
    while time.time() < deadline:
        mine = [r for r in list_runs(runs_dir) if r.run_id not in before]
        if len(mine) == 3 and all(r.state in FINAL_STATES for r in mine):
            break
        time.sleep(1)
    assert sorted(r.name for r in mine) == ["tab a", "tab b one", "tab b two"]
    assert [r.state for r in mine] == ["completed"] * 3 and not any(r.problems for r in mine)
    tab_a.reload()
    settle(tab_a)
    assert_no_error(tab_a, "train-after-three-runs")
    context.close()
