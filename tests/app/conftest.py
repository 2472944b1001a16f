"""The real browser and the real app server, shared by the browser tests:
Playwright driving Debian's Chromium against a real `streamlit run`; and empty
Streamlit caches for every AppTest."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.runs.liveness import request_cancel
from tests.conftest import PROJECT_ROOT, copy_run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each AppTest starts with empty Streamlit caches: no page sees another test's store."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def handwriting_dir_for(runs: Path) -> Path:
    """Where the server over the store `runs` keeps handwriting sets (never the user's own)."""
    return runs.parent / f"handwriting-{runs.name}"


@contextmanager
def serve(runs: Path, mnist_dir: Path, script: str = "dashboard/server.py", base: str = ""):
    """A real Streamlit server on loopback over the run store `runs`; yields its URL.
    `script`: dashboard/app.py is the app without Draw's answer route (st.App is experimental);
    `base`: a server.baseUrlPath, as behind a path-prefix proxy."""
    port = free_port()
    env = {**os.environ, "DIGIT_LAB_RUNS_DIR": str(runs), "MNIST_DATA_DIR": str(mnist_dir),
           "DIGIT_LAB_HANDWRITING_DIR": str(handwriting_dir_for(runs)), "DIGIT_LAB_LEARN_IDLE_S": "60"}
    log = open(runs.parent / f"streamlit-{runs.name}.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         *(["--server.baseUrlPath", base] if base else [])],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}" + (f"/{base}" if base else "")
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"streamlit did not start: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        for run_dir in runs.iterdir():  # Draw's learners outlive the server by design; not the tests'
            if (run_dir / "learned.json").is_file():
                request_cancel(run_dir)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, mnist_dir):
    """The app over an empty run store."""
    runs = tmp_path_factory.mktemp("browser-store")
    os.environ["DIGIT_LAB_TEST_BROWSER_STORE"] = str(runs)  # for tests that inspect the store
    with serve(runs, mnist_dir) as url:
        yield url


@pytest.fixture(scope="module")
def comparison_app_url(tmp_path_factory, mnist_dir, epoch_runs):
    """The app over a store with two three-epoch runs (relu + max, tanh + avg)."""
    runs = tmp_path_factory.mktemp("comparison-store")
    for run_dir in epoch_runs:
        copy_run(run_dir, runs, run_dir.name)
    with serve(runs, mnist_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    yield page
    context.close()
