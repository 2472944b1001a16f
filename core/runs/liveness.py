"""Who runs a run (or a sweep), whether it still does, and how to ask it to stop.

A run's status.json (a sweep's sweep.json) names its owner: `host`
(socket.gethostname()), `pid` and `pid_started` (that process's start time,
psutil's create_time()); the owner also refreshes `heartbeat_at` (UTC, ISO)
every HEARTBEAT_EVERY_S while it lives. The one liveness rule, `is_alive`:

- on this host: a process with that pid AND that start time exists and is not a
  zombie. A bare pid is never enough: after a reboot or a pid reuse it names a
  stranger.
- on another host (a Ray cluster with a shared run store): its heartbeat is
  fresher than HEARTBEAT_STALE_S. This machine's pids say nothing about another's.
- no pid yet (launched, the child has not recorded itself): alive for
  START_TIMEOUT_S after `launched_at`.

A process is only ever signalled when its identity (host + pid + start time)
matches (`signal_owner`). The sure way to stop a run is the file `cancel` in
its folder: the run watches it (`cancel_watch`), wherever it runs, even while
it is still queued.

No Streamlit, no Ray, no other module of this project: everything imports this.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import psutil

# A run's own process rewrites heartbeat_at every 5 s; a run on another host counts
# as dead once its heartbeat is 90 s old (18 missed beats). The margin is for what
# lies between the two machines, not for the beat itself: their clocks are
# NTP-synced, so they agree to well under a second, but a shared filesystem (NFS)
# caches attributes and directory entries for up to 60 s by default (acregmax,
# acdirmax), so a reader may see a status.json up to a minute old. 60 s + one
# beat + slack: a live run is never read as dead, and a dead one on another host
# shows as running (and holds its queue slot) for at most about 1.5 minutes.
HEARTBEAT_EVERY_S = 5.0
HEARTBEAT_STALE_S = 90.0

# psutil's create_time() is the boot time (whole seconds, recomputed from the
# wall clock, so it can move by a second under NTP) plus the start in clock
# ticks: the same process can read a second apart from two processes. A reused
# pid starts long after (the pid space must wrap first), a pid from before a
# reboot hours apart.
PID_START_TOLERANCE_S = 1.0

# A launched child records its identity within seconds; one that never does has died.
START_TIMEOUT_S = 120

# The file in a run folder that asks the run to stop, and how often a run looks for it.
CANCEL_FILE = "cancel"
CANCEL_POLL_S = 0.5


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def this_host() -> str:
    return socket.gethostname()


def identity(pid: int | None = None) -> dict:
    """The identity to record for a process on this host (default: this process),
    with a first heartbeat: {"host", "pid", "pid_started", "heartbeat_at"}."""
    pid = os.getpid() if pid is None else pid
    return {"host": this_host(), "pid": pid, "pid_started": psutil.Process(pid).create_time(),
            "heartbeat_at": now_iso()}


def _valid_pid(pid) -> bool:
    return isinstance(pid, int) and not isinstance(pid, bool) and pid > 0


def _parse_time(text) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def on_this_host(status: dict) -> bool:
    """Whether the status names a process of this machine (no host: an old record, this machine)."""
    host = status.get("host")
    return host is None or host == this_host()


def owner_here(status: dict) -> psutil.Process | None:
    """The live, non-zombie process on this host whose pid AND start time the status
    records, else None (another host, no identity, gone, reused pid, zombie)."""
    pid, started = status.get("pid"), status.get("pid_started")
    if not on_this_host(status) or not _valid_pid(pid):
        return None
    if isinstance(started, bool) or not isinstance(started, (int, float)) or not math.isfinite(started):
        return None  # no start time recorded: the pid cannot be told from a stranger's
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) > PID_START_TOLERANCE_S:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # ZombieProcess is a NoSuchProcess
        return None
    return process


def heartbeat_age(status: dict, now: datetime | None = None) -> float | None:
    """Seconds since the status's last heartbeat (negative if the writer's clock runs ahead), None if none."""
    beat = _parse_time(status.get("heartbeat_at"))
    if beat is None:
        return None
    return ((now or datetime.now(timezone.utc)) - beat).total_seconds()


def is_alive(status: dict, now: datetime | None = None) -> bool:
    """Whether the process that owns this status (a run's or a sweep's) still lives; see the module doc."""
    if not isinstance(status, dict):
        return False
    if status.get("pid"):
        if on_this_host(status):
            return owner_here(status) is not None
        age = heartbeat_age(status, now)
        return age is not None and abs(age) < HEARTBEAT_STALE_S
    launched = _parse_time(status.get("launched_at") or status.get("created_at"))
    if launched is None:
        return False
    return ((now or datetime.now(timezone.utc)) - launched).total_seconds() < START_TIMEOUT_S


def signal_owner(status: dict, signum: int = signal.SIGTERM) -> bool:
    """Send `signum` to the status's owner only if it is this host's live process with
    the recorded pid and start time; True if sent. Never signals anyone else."""
    process = owner_here(status)
    if process is None or not is_digit_lab_process(process):
        return False
    try:
        process.send_signal(signum)  # psutil checks the start time again just before
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return True


# The entry points that own a run or a sweep, and the title Ray gives the worker that
# trains a sweep's trial. A record naming any other process (a forged or stale status.json)
# gets no signal, only the cancel file.
OWNER_MODULES = ("core.train", "core.adapt", "core.sweep")
RAY_WORKER_TITLE = "ray::"


def is_digit_lab_process(process: psutil.Process) -> bool:
    """Whether a live process is one of ours: `python -m core.train|adapt|sweep`, or a
    Ray worker (whose title Ray sets to ray::...)."""
    try:
        argv = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if argv and argv[0].startswith(RAY_WORKER_TITLE):
        return True
    return any(a == "-m" and b in OWNER_MODULES for a, b in zip(argv, argv[1:]))


def request_cancel(folder: Path) -> None:
    """Create the cancel file in a run (or sweep) folder; its owner stops when it sees it.
    Created, never followed: a link planted under that name is left as it is (and its
    presence already reads as a request)."""
    try:
        fd = os.open(Path(folder) / CANCEL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as f:
        f.write(now_iso() + "\n")


def cancel_watch(path: Path, every: float = CANCEL_POLL_S) -> Callable[[], bool]:
    """A should_stop poll: True once the file `path` exists, looked for at most every
    `every` seconds (a stat per batch would be wasted on a shared filesystem)."""
    path = Path(path)
    seen = {"at": -math.inf, "stop": False}

    def requested() -> bool:
        now = time.monotonic()
        if not seen["stop"] and now - seen["at"] >= every:
            seen["at"], seen["stop"] = now, path.exists()
        return seen["stop"]

    return requested


class Heartbeat:
    """Calls `beat()` every `every` seconds on a daemon thread until stopped.

    `beat` writes the owner's record; the writer must serialise it with the owner's
    own writes (runstore.write_status holds a lock; SweepDriver.save its own).
    A failed beat (a full disk, a folder gone) is skipped; the next one tries again.
    """

    def __init__(self, beat: Callable[[], None], every: float = HEARTBEAT_EVERY_S):
        self.beat, self.every = beat, every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self._stopped.wait(self.every):
            try:
                self.beat()
            except Exception:
                pass

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def __enter__(self) -> "Heartbeat":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
