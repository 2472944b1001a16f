"""The runs layer: run directories and sweeps on disk, checkpoints, status and
liveness, the queue, launching and cancelling background work, Ray. Built on
core.engine; the dashboard and the command-line entry points are built on it."""
