"""Seconds from a correction on Draw to your model's new weights serving it.

    MNIST_DATA_DIR=../shared/data python -m bench.learn_latency [--corrections 50] [--every 3] [--writer continental]

Each correction is what Draw's "it was D" click does: the drawing joins the set
(HandwritingSet.add) and the follower is made sure of (launcher.learn_from_set,
which starts `python -m core.adapt --follow` the first time). A correction
serves once model.pt holds it: learned.json, written right after the weights,
names it (the answer route reloads model.pt when it changes). The first
correction includes the follower's start-up (torch, MNIST, the parent's
features). `--every` is the seconds between clicks: 3 is a person drawing the
next digit; below a round's time, clicks queue into the next round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.draw_latency import percentile  # noqa: E402
from core.runs.files import read_json  # noqa: E402
from core.runs.handwriting_sets import HandwritingSet  # noqa: E402
from core.runs.launcher import learn_from_set  # noqa: E402
from core.runs.liveness import request_cancel  # noqa: E402
from core.runs.store import DEFAULT_MODEL_DIR  # noqa: E402
from tests.writers import WRITERS, writer_samples  # noqa: E402


def learned(run_dir: Path) -> set[str]:
    try:
        return set(read_json(run_dir / "learned.json")["learned"])
    except (OSError, ValueError, KeyError):
        return set()


class CorrectionFeed(threading.Thread):
    """A person correcting in the background: one digit of `writer` added to a set under
    `root` every `every` seconds, each followed by learn_from_set (for other benches)."""

    def __init__(self, root: Path, writer: str = "continental", every: float = 3.0):
        super().__init__(daemon=True)
        self.root, self.every, self.halt = Path(root), every, threading.Event()
        self.samples = list(writer_samples(WRITERS[writer], 20, seed=9))
        self.hw = HandwritingSet.create(writer, self.root / "sets", canvas=(280, 280))
        self.run_id: str | None = None

    def run(self) -> None:
        for i in range(len(self.samples)):
            if self.halt.wait(self.every):
                return
            self.hw.add(*self.samples[(i % 10) * 20 + i // 10])
            self.run_id = learn_from_set(DEFAULT_MODEL_DIR, self.hw.path, self.root / "runs", self.run_id)

    def stop(self) -> int:
        """Stop feeding and the follower; returns the rounds it learned."""
        self.halt.set()
        self.join()
        if self.run_id is None:
            return 0
        request_cancel(self.root / "runs" / self.run_id)
        return len((self.root / "runs" / self.run_id / "metrics.csv").read_text().splitlines()[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corrections", type=int, default=50)
    p.add_argument("--every", type=float, default=3.0, help="seconds between clicks")
    p.add_argument("--writer", default="continental", choices=sorted(WRITERS))
    args = p.parse_args()
    samples = list(writer_samples(WRITERS[args.writer], (args.corrections + 9) // 10, seed=5))
    order = [samples[(i % 10) * ((args.corrections + 9) // 10) + i // 10] for i in range(args.corrections)]
    with tempfile.TemporaryDirectory() as tmp:
        hw = HandwritingSet.create(args.writer, Path(tmp) / "sets", canvas=(280, 280))
        runs, run_id, clicked, served = Path(tmp) / "runs", None, {}, {}
        start, pending = time.perf_counter(), list(order)
        deadline = start + args.corrections * args.every + 120
        while (pending or len(served) < len(clicked)) and time.perf_counter() < deadline:
            if pending and time.perf_counter() >= start + len(clicked) * args.every:
                sample = hw.add(*pending.pop(0))
                clicked[f"{sample.digit}/{sample.id}.png"] = time.perf_counter()
                run_id = learn_from_set(DEFAULT_MODEL_DIR, hw.path, runs, run_id)
            for name in learned(runs / run_id) - served.keys():
                served[name] = time.perf_counter()
            time.sleep(0.005)
        final = learned(runs / run_id)
        request_cancel(runs / run_id)
        seconds = [served[n] - clicked[n] for n in clicked if n in served]
        rows = (runs / run_id / "metrics.csv").read_text().splitlines()[1:]
        print(f"{args.corrections} corrections, one every {args.every:g} s, writer {args.writer}: "
              f"{len(final)} learned in {len(rows)} rounds")
        print(f"first (with the follower's start-up): {seconds[0]:.2f} s")
        later = seconds[1:]
        print(f"click -> serving: median {statistics.median(seconds):.2f} s, p95 {percentile(seconds, 0.95):.2f} s, "
              f"max {max(seconds):.2f} s; without the first: median {statistics.median(later):.2f} s, "
              f"p95 {percentile(later, 0.95):.2f} s")


if __name__ == "__main__":
    main()
