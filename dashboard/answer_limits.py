"""What keeps Draw's answer route (dashboard/live_answer.py) from costing everyone
else: the work runs off the server's event loop, on one worker thread with a short
queue, and a request beyond that queue, or beyond a token's share of requests, is
refused at once (503, 429) instead of waiting. The canvas then leaves the answer to
the page's rerun, as it does without the route."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor

# A person lifts the pen a few times a second at most; 20 a second is a script.
PER_TOKEN_PER_SECOND = 20
MAX_TRACKED_TOKENS = 1024
WORKERS = 1  # one prediction at a time: a few ms each, and the cores are the sessions' too
WAITING = 4  # requests queued behind it before the next is refused


class Saturated(Exception):
    """The worker and its queue are full: the request is refused, not queued."""


class PerTokenRate:
    """At most `per_second` requests per token in any second (a sliding window)."""

    def __init__(self, per_second: int = PER_TOKEN_PER_SECOND, tracked: int = MAX_TRACKED_TOKENS):
        self.per_second, self.tracked = per_second, tracked
        self._seen: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, token: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._seen.pop(token, None) or deque()
            while times and now - times[0] >= 1.0:
                times.popleft()
            allowed = len(times) < self.per_second
            if allowed:
                times.append(now)
            self._seen[token] = times
            while len(self._seen) > self.tracked:
                self._seen.popitem(last=False)
            return allowed


class BoundedWorker:
    """Runs blocking work on `workers` threads with at most `waiting` more queued."""

    def __init__(self, workers: int = WORKERS, waiting: int = WAITING):
        self.capacity = workers + waiting
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="digit-lab-answer")
        self._in_flight = 0
        self._lock = threading.Lock()

    async def run(self, work, *args):
        with self._lock:
            if self._in_flight >= self.capacity:
                raise Saturated()
            self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            with self._lock:
                self._in_flight -= 1
