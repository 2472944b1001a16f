"""The app as a browser sees it with no network beyond this machine: every request it
makes goes to its own server (no icon font or emoji from a CDN), none fails; the
plain `streamlit run dashboard/app.py`, without st.App's answer route, still reads a
drawing on Draw (the page's rerun answers); and behind a path prefix
(server.baseUrlPath) the canvas still has its quick answer."""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import urlparse

import pytest

from tests.app.conftest import serve
from tests.app.test_browser import assert_no_error, settle
from tests.app.test_browser_learning import _answer, _draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_no_page_asks_anything_of_another_host(page, app_url):
    outside, failed = [], []

    def only_here(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.on("requestfailed", lambda request: failed.append(request.url))
    for name in ("", "draw", "handwriting", "train"):
        page.goto(f"{app_url}/{name}")
        settle(page)
    assert outside == [], outside
    assert [url for url in failed if "_stcore/stream" not in url] == [], failed


@contextmanager
def draw_page(page, tmp_path, mnist_dir, **server):
    """Draw open and settled on a server of its own (`server`: serve's script or base)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    with serve(runs, mnist_dir, **server) as url:
        page.goto(f"{url}/draw")
        settle(page)
        yield


def test_the_app_without_the_answer_route_still_reads_a_drawing(page, tmp_path, mnist_dir):
    with draw_page(page, tmp_path, mnist_dir, script="dashboard/app.py"):
        _draw(page, "canvas", (40.0, 40.0, 200.0, 200.0))
        assert _answer(page) in "0123456789"
        assert page.locator(".st-key-canvas .answer").inner_text().strip() == ""  # no route: no quick answer
        assert_no_error(page, "draw-without-route")


def test_behind_a_path_prefix_the_canvas_keeps_its_quick_answer(page, tmp_path, mnist_dir):
    with draw_page(page, tmp_path, mnist_dir, base="lab"):
        with page.expect_request(lambda r: r.url.endswith("/digit-lab/answer")) as asked:
            _draw(page, "canvas", (40.0, 40.0, 200.0, 200.0))
        assert urlparse(asked.value.url).path == "/lab/digit-lab/answer"  # under the prefix a proxy forwards
        digit = _answer(page)
        answer = page.locator(".st-key-canvas .answer")
        answer.wait_for(timeout=10_000)
        assert answer.inner_text().startswith(f"reads as {digit}")
