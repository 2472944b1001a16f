"""Draw's answer route under a flood: one client posts a valid drawing with a valid
token as fast as it can while N sessions draw in real Chromium; prints the sessions'
mouse-up-to-digit p50/p95 (bench.draw_latency's measure), what the flooder got back,
and whether the server still answers afterwards.

    python -m bench.answer_flood [--sessions 4] [--strokes 12] [--look 2]

The token and drawing come from a real page: Draw is opened once, a stroke drawn, and
the canvas's own request to the route captured. The flood runs from before the
sessions open until they have drawn every stroke (bounded to 5 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import psutil

from bench.draw_latency import CHROMIUM, FLAGS, STROKES, app_server, measure, open_draw, percentile

ANSWER_PATH = "/digit-lab/answer"


async def captured_request(url: str) -> bytes:
    """The body of the canvas's first request to the answer route (its token and drawing)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = await (await browser.new_context(viewport={"width": 1400, "height": 1400})).new_page()
        await open_draw(page, url)
        async with page.expect_request(lambda r: r.url.endswith(ANSWER_PATH)) as request:
            box = await page.locator(".st-key-canvas").bounding_box()
            await page.mouse.move(box["x"] + STROKES[0][0][0], box["y"] + STROKES[0][0][1])
            await page.mouse.down()
            await page.mouse.move(box["x"] + STROKES[0][1][0], box["y"] + STROKES[0][1][1], steps=12)
            await page.mouse.up()
        body = (await request.value).post_data_buffer
        await browser.close()
    return body


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url + ANSWER_PATH, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def flood(url: str, body: bytes, stop: threading.Event, codes: Counter) -> None:
    deadline = time.monotonic() + 300
    while not stop.is_set() and time.monotonic() < deadline:
        codes[post(url, body)] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--strokes", type=int, default=12)
    parser.add_argument("--look", type=float, default=2.0)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    with app_server(args.port) as (url, runs, server):
        process = psutil.Process(server.pid)
        body = asyncio.run(captured_request(url))
        token = json.loads(body)["token"]
        codes: Counter = Counter()
        stop = threading.Event()
        flooder = threading.Thread(target=flood, args=(url, body, stop, codes), daemon=True)
        started = time.monotonic()
        flooder.start()
        try:
            waits, panels, missed, opens, _, _, _ = asyncio.run(measure(url, args.sessions, args.strokes, process,
                                                                        args.look))
        finally:
            stop.set()
            flooder.join()
        seconds = time.monotonic() - started
        ms = [w * 1000 for w in waits]
        print(f"{args.sessions} sessions drawing while one client floods the route with token {token[:6]}...: "
              f"mouse-up to digit p50 {statistics.median(ms):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
              f"max {max(ms):.0f} ms ({len(ms)} strokes, {missed} without the canvas's answer)")
        total = sum(codes.values())
        print(f"the flooder: {total:,} requests in {seconds:.0f} s ({total / seconds:.0f}/s): "
              + ", ".join(f"{code or 'no reply'}: {n:,}" for code, n in sorted(codes.items())))
        time.sleep(1.1)  # past the flooder's one-second window
        after = post(url, body)
        print(f"a second later the route answers the flooder's own token again: {after}")


if __name__ == "__main__":
    main()
