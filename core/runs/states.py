"""The states of a run or a sweep, in the order they happen, and which are still going."""

STATES = ("queued", "running", "completed", "failed", "cancelled")
LIVE_STATES = ("queued", "running")  # may still change: shown live, cancellable, never deleted
FINAL_STATES = ("completed", "failed", "cancelled")
