"""From the Train page's Start button to "completed", in a real browser: the small
run of issue 19 (fast preset, 8,000 training digits, 3 epochs), as a person launches
it, with the live curves on screen. Prints each try and the median.

    python -m bench.train_from_page [--repeat 3] [--epochs 3] [--train-limit 8000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.draw_latency import CHROMIUM, FLAGS, app_server


def launch_and_wait(page, url: str, epochs: int, train_limit: int, runs: Path) -> tuple[float, str]:
    """Seconds from the click until the page shows the new run completed, and its id."""
    page.goto(f"{url}/train")
    page.get_by_role("combobox", name="Preset").wait_for(timeout=120_000)
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="fast", exact=True).click()
    page.wait_for_timeout(1500)  # the preset's values are in the form before ours replace them
    page.get_by_text("Advanced", exact=True).click()
    fields = {"Epochs": str(epochs), "Train limit": str(train_limit)}
    for _ in range(20):  # a rerun can land between fill and commit; set until the form holds both
        for name, value in fields.items():
            field = page.get_by_role("spinbutton", name=name, exact=True)
            field.fill(value)
            field.press("Tab")
        page.wait_for_timeout(700)
        if all(page.get_by_role("spinbutton", name=n, exact=True).input_value() == v for n, v in fields.items()):
            break
    else:
        raise SystemExit(f"the Train form did not take {fields}")
    clicked = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/train?run=*", timeout=60_000)  # the new run's own view, not an older one's
    run_id = page.url.split("run=")[-1]
    deadline = time.time() + 300
    while time.time() < deadline:  # on disk first, so an older run's "completed" cannot count
        try:
            if json.loads((runs / run_id / "status.json").read_text()).get("state") == "completed":
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    # then on the page: the run's Cancel button gone (it shows while the run is live)
    page.wait_for_function(f"() => !document.querySelector('.st-key-cancel-{run_id}') && "
                           "document.body.innerText.includes('completed')", polling=50, timeout=60_000)
    return time.perf_counter() - clicked, run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-limit", type=int, default=8000)
    parser.add_argument("--port", type=int, default=8768)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with app_server(args.port) as (url, runs, _):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            seconds = []
            for attempt in range(args.repeat):  # each try a new visitor: a fresh browser session
                page = browser.new_page(viewport={"width": 1400, "height": 1400})
                took, run_id = launch_and_wait(page, url, args.epochs, args.train_limit, runs)
                seconds.append(took)
                newest = runs / run_id
                status = json.loads((newest / "status.json").read_text())
                config = json.loads((newest / "config.json").read_text())
                print(f"try {attempt + 1}: click to completed {seconds[-1]:.1f} s (run {newest.name}: "
                      f"{config.get('epochs')} epochs, train limit {config.get('train_limit')}, "
                      f"state {status.get('state')})", flush=True)
                page.close()
            browser.close()
    print(f"median of {len(seconds)}: {statistics.median(seconds):.1f} s from the click to completed")


if __name__ == "__main__":
    main()
