"""Draw page latency in a real browser: N sessions (Chromium tabs, each its own
Streamlit session) open Draw, then draw with the mouse at once on one server; each
times, on the browser's own clock, mouse-up to the new prediction appearing: first
the canvas's own answer (dashboard/live_answer.py), then the page's panel with its
probabilities and "what the model saw" after the rerun. Prints p50/p95 of both per N,
and how long the Draw page took to open.

    python -m bench.draw_latency [--sessions 1 4 8] [--strokes 12] [--with-training] [--with-learning] [--look 2]

--look is how long each person looks at the freshly opened page before the first
stroke (2 s; with 0 all N first strokes land while the N pages are still settling,
which is the slowest case: it is printed as measured, not left out).

--with-training keeps a training run (the fast preset, several epochs) going on the
same two cores while the sessions draw, as a lab machine would.

--with-learning has a person correcting Draw at the same time, one digit every 3 s,
each a round of their model in its follower (bench.learn_latency.CorrectionFeed).

Each line also gives the CPU seconds per stroke spent by the Streamlit server and by
Chromium: here every browser tab shares the server's two cores, which people drawing
on their own machines would not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Strokes on the 280x280 canvas, one at a time; each changes the drawing, so each
# brings a new prediction. After the last the canvas is cleared with its own button.
STROKES = [[(140, 40), (140, 240)], [(60, 50), (210, 50)], [(90, 140), (190, 140)], [(60, 230), (220, 230)]]
# The canvas's own answer (dashboard/live_answer.py), which names the drawing it answers: the
# digit shows there first. The canvas's component may sit in a shadow root.
ANSWER = """() => { const find = (root) => { const a = root.querySelector('.answer'); if (a) return a;
    for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; } }
    return null; }; const host = document.querySelector('.st-key-canvas'); return host ? find(host) : null; }"""
SEEN = """() => { const a = (""" + ANSWER + """)(); return a && a.textContent ? a.textContent : null; }"""
ANSWERED = """() => { const a = (""" + ANSWER + """)(); return a ? a.dataset.drawing || null : null; }"""
# Then the page's panel, after its rerun: "what the model saw" is a new image for every
# drawing read (a digit or a confidence figure can stay the same from one stroke to the next).
PANEL = """() => { const i = document.querySelector('.st-key-predicted-digit')
    && document.querySelector('[data-testid="stImage"] img'); return i ? i.src : null; }"""
# Timed inside the page, on the browser's clock: the moment the pen lifts (a mouseup listener)
# and the first change that shows each new answer (a MutationObserver), so the figures are
# what the person sees and not how soon the benchmark's own driver gets round to looking.
# The canvas answers each drawing once, with its digit or (route too slow, or failed) with
# nothing, which leaves the panel as the first answer the person sees.
WATCH = """() => { const answered = """ + ANSWERED + """, seen = """ + SEEN + """, panel = """ + PANEL + """;
    const lat = window.__lat = {up: null, answer: null, missed: false, panel: null, before: [answered(), panel()]};
    window.addEventListener('mouseup', () => { lat.up = performance.now(); }, {capture: true, once: true});
    const look = () => { if (lat.up === null) return; const now = performance.now();
        const a = answered(), p = panel();
        if (lat.answer === null && !lat.missed && a !== null && a !== lat.before[0]) {
            if (seen() !== null) lat.answer = now; else lat.missed = true; }
        if (lat.panel === null && p !== null && p !== lat.before[1]) lat.panel = now; };
    new MutationObserver(look).observe((""" + ANSWER + """)(),
        {subtree: true, childList: true, characterData: true, attributes: true});
    new MutationObserver(look).observe(document.body, {subtree: true, childList: true, attributes: true,
        attributeFilter: ['src']}); }"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def browsers() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith(("chrom", "headless"))]


def start_server(runs: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_HANDWRITING_DIR": str(runs.parent / "hw")}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    sys.exit("streamlit did not start")


@contextmanager
def app_server(port: int):
    """The app over a fresh, empty store in a temporary folder: (url, runs folder, server)."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        server = start_server(runs, port)
        try:
            yield f"http://127.0.0.1:{port}", runs, server
        finally:
            server.terminate()
            server.wait(timeout=20)


async def open_draw(page, url: str) -> float:
    """Seconds until Draw has opened: the whole page shown and its script finished (a
    person starts drawing on a page that has stopped loading)."""
    started = time.perf_counter()
    await page.goto(f"{url}/draw")
    await page.locator(".st-key-canvas").wait_for(timeout=120_000)
    await page.wait_for_function("() => document.body.innerText.includes('Draw a digit') && "
                                 "document.body.innerText.includes('Side by side')", timeout=120_000)
    canvas = page.locator(".st-key-canvas canvas")
    for _ in range(600):  # the component's script has run once it has sized its canvas (300 px before)
        if await canvas.evaluate("c => c.width") == 280:
            break
        await page.wait_for_timeout(100)
    await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                 polling=50, timeout=120_000)
    return time.perf_counter() - started


async def open_session(browser, url: str, opens: list[float]):
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    page = await context.new_page()
    opens.append(await open_draw(page, url))
    return page


async def draw(page, strokes: int, waits: list[float], panels: list[float], missed: list[int]) -> None:
    """Each stroke's wait for the first answer shown (the canvas's, or the page's panel
    where the canvas had none) and for the panel; the person looks at both, as they
    would, before the next stroke. `missed` counts the strokes the canvas did not answer."""
    for done in range(strokes):
        stroke = STROKES[done % len(STROKES)]
        if done and done % len(STROKES) == 0:  # a fresh digit: Clear, as a person would
            await page.locator(".st-key-canvas button.clear").click()
            await page.wait_for_function(f"() => ({SEEN})() === null && ({PANEL})() === null",
                                         polling=20, timeout=60_000)
        box = await page.locator(".st-key-canvas").bounding_box()  # now: the layout may have moved
        await page.evaluate(WATCH)
        await page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
        await page.mouse.up()
        try:
            await page.wait_for_function("() => (window.__lat.answer !== null || window.__lat.missed) "
                                         "&& window.__lat.panel !== null", polling=100, timeout=60_000)
        except Exception:
            await page.screenshot(path="/tmp/draw-latency-timeout.png", full_page=True)
            raise
        answer, panel = await page.evaluate("() => { const l = window.__lat; "
                                            "return [l.missed ? null : l.answer - l.up, l.panel - l.up]; }")
        missed.append(answer is None)
        waits.append(min(panel if answer is None else answer, panel) / 1000)
        panels.append(panel / 1000)
        await page.wait_for_timeout(300)  # a person looks before the next stroke


async def mouse_only(page, strokes: int) -> None:
    """The same strokes beside the canvas: what the emulated mouse alone costs Chromium
    (a person's own mouse costs the server's cores nothing)."""
    box = await page.locator(".st-key-canvas").bounding_box()
    for done in range(strokes):
        stroke = STROKES[done % len(STROKES)]
        await page.mouse.move(box["x"] + 400 + stroke[0][0], box["y"] + stroke[0][1])
        for x, y in stroke[1:]:
            await page.mouse.move(box["x"] + 400 + x, box["y"] + y, steps=12)


async def measure(url: str, sessions: int, strokes: int, server: psutil.Process, look: float = 0.0
                  ) -> tuple[list[float], list[float], int, list[float], float, float, float]:
    """Mouse-up waits for the first answer shown and for the page's panel, how many strokes
    the canvas did not answer, page opening times,
    and the CPU seconds the server and the browser spent while the sessions drew (every
    page is open before the first stroke: people drawing at once), and the browser's CPU
    seconds per stroke for the mouse alone."""
    from playwright.async_api import async_playwright

    waits: list[float] = []
    panels: list[float] = []
    missed: list[int] = []
    opens: list[float] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pages = await asyncio.gather(*(open_session(browser, url, opens) for _ in range(sessions)))
        await asyncio.sleep(look)  # the person reads the page before drawing
        tabs = browsers()
        server_before, browser_before = cpu_seconds([server]), cpu_seconds(tabs)
        await asyncio.gather(*(draw(page, strokes, waits, panels, missed) for page in pages))
        server_cpu, browser_cpu = cpu_seconds([server]) - server_before, cpu_seconds(tabs) - browser_before
        before = cpu_seconds(tabs)
        await mouse_only(pages[0], strokes)
        mouse_cpu = (cpu_seconds(tabs) - before) / strokes
        await browser.close()
    return waits, panels, sum(missed), opens, server_cpu, browser_cpu, mouse_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--strokes", type=int, default=12, help="strokes each session draws")
    parser.add_argument("--with-training", action="store_true")
    parser.add_argument("--with-learning", action="store_true")
    parser.add_argument("--look", type=float, default=2.0, help="seconds from the pages open to the first stroke")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with app_server(args.port) as (url, runs, server):
        trainer = feed = None
        try:
            process = psutil.Process(server.pid)
            asyncio.run(measure(url, 1, 1, process))  # warm: the default model loaded, the page's modules imported
            if args.with_training:
                trainer = subprocess.Popen([sys.executable, "-m", "core.train", "--preset", "fast", "--epochs", "30",
                                            "--runs-dir", str(runs.parent / "train")], cwd=ROOT,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if args.with_learning:
                from bench.learn_latency import CorrectionFeed

                feed = CorrectionFeed(runs.parent / "learning")
                feed.start()
            for n in args.sessions:
                waits, panels, missed, opens, server_cpu, browser_cpu, mouse_cpu = asyncio.run(
                    measure(url, n, args.strokes, process, args.look))
                ms, panel_ms = [w * 1000 for w in waits], [w * 1000 for w in panels]
                extra = (" + training" if trainer else "") + (" + learning from corrections" if feed else "")
                print(f"{n} session(s){extra}, first stroke {args.look:g} s after opening: "
                      f"mouse-up to prediction p50 "
                      f"{statistics.median(ms):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, max {max(ms):.0f} ms "
                      f"({len(ms)} strokes, {missed} without the canvas's answer); "
                      f"to the page's panel p50 {statistics.median(panel_ms):.0f} ms, "
                      f"p95 {percentile(panel_ms, 0.95):.0f} ms; opening Draw p50 {statistics.median(opens):.1f} s, "
                      f"max {max(opens):.1f} s; CPU per stroke: server {server_cpu / len(ms):.2f} s, "
                      f"browser {browser_cpu / len(ms):.2f} s (the emulated mouse alone {mouse_cpu:.2f} s)",
                      flush=True)
        finally:
            if trainer is not None:
                trainer.terminate()
            if feed is not None:
                print(f"the follower learned {feed.stop()} rounds meanwhile", flush=True)


if __name__ == "__main__":
    main()
