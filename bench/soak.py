"""A soak: N Chromium sessions draw known digits on Draw for M minutes, with two
training runs and a small sweep in the background on the same two cores. Prints
the exceptions any page showed, the answers that were wrong, the strokes the canvas
did not answer in time, and the server's memory after the first minute and at the end.

    python -m bench.soak [--sessions 8] [--minutes 10]

Each session draws plain styles the default model reads (tests/handwriting.py) with
the mouse, waits for the canvas's answer ("reads as D"), checks it, and clears.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time

import psutil

from bench.draw_latency import CHROMIUM, FLAGS, ROOT, app_server, open_draw
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, digit_of

DIGITS = ["0", "1-plain", "3", "4-open", "7-plain", "8"]
ANSWER = re.compile(r"reads as (\d)")


async def _canvas_answer(page, timeout: float) -> int | None:
    """The digit the canvas shows ("reads as D"), polled through Playwright (which sees
    into the component's shadow root), or None after `timeout` seconds."""
    answer, deadline = page.locator(".st-key-canvas .answer"), time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Dimmed (0.4) while the last stroke's drawing is asked about: the text is an older drawing's.
        if await answer.evaluate("a => a.style.opacity") in ("1", ""):
            said = ANSWER.search(await answer.inner_text())
            if said:
                return int(said.group(1))
        await page.wait_for_timeout(100)
    return None


async def session(browser, url: str, deadline: float, tally: dict) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    page = await context.new_page()
    await open_draw(page, url)
    n = 0
    while time.monotonic() < deadline:
        style = DIGITS[n % len(DIGITS)]
        n += 1
        box = await page.locator(".st-key-canvas").bounding_box()
        for stroke in canvas_strokes(STYLES[style], PLACEMENTS["large-centred"]):
            await page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
            await page.mouse.down()
            for x, y in stroke[1:]:
                await page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
            await page.mouse.up()
        said = await _canvas_answer(page, timeout=30.0)
        if said is None:
            tally["unanswered"] += 1
        else:
            tally["wrong" if said != digit_of(style) else "right"] += 1
            if said != digit_of(style):
                tally.setdefault("misread", []).append(f"{style} as {said}")
        tally["exceptions"] += await page.locator('[data-testid="stException"]').count()
        await page.locator(".st-key-canvas button.clear").click()
        await page.wait_for_timeout(500)
    await context.close()


async def soak(url: str, sessions: int, seconds: float, tally: dict) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(session(browser, url, deadline, tally) for _ in range(sessions)))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    with app_server(args.port) as (url, runs, server):
        background = [subprocess.Popen([sys.executable, "-m", "core.train", "--preset", "fast", "--epochs", "30",
                                        "--runs-dir", str(runs)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL) for _ in range(2)]
        background.append(subprocess.Popen(
            [sys.executable, "-m", "core.sweep", "--grid", "activation=relu,tanh", "--runs-dir", str(runs),
             "--epochs", "1", "--train-limit", "5000", "--widths", "8,16", "--hidden", "32", "--val-size", "1000"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        process, memory = psutil.Process(server.pid), {}
        tally = {"right": 0, "wrong": 0, "unanswered": 0, "exceptions": 0}

        async def run() -> None:
            async def after_a_minute() -> None:
                await asyncio.sleep(60)
                memory["first minute"] = process.memory_info().rss
            sampler = asyncio.create_task(after_a_minute())
            await soak(url, args.sessions, args.minutes * 60, tally)
            sampler.cancel()

        loop_started = time.monotonic()
        try:
            asyncio.run(run())
        finally:
            for child in background:
                child.terminate()
        memory["end"] = process.memory_info().rss
        seconds = time.monotonic() - loop_started
        first, end = memory.get("first minute", memory["end"]), memory["end"]
        print(f"{args.sessions} sessions for {seconds / 60:.1f} min beside 2 training runs and a sweep: "
              f"{tally['right'] + tally['wrong']} digits read, {tally['wrong']} wrong, {tally['unanswered']} "
              f"unanswered within 30 s, {tally['exceptions']} exceptions on the pages"
              + (f"; misread: {', '.join(sorted(set(tally['misread'])))}" if tally.get("misread") else ""))
        print(f"server memory: {first / 2**20:.0f} MB after the first minute, {end / 2**20:.0f} MB at the end "
              f"({(end - first) / first:+.1%})")


if __name__ == "__main__":
    main()
