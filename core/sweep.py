"""`python -m core.sweep`: a hyper-parameter sweep on Ray Tune.

    python -m core.sweep --grid activation=relu,tanh --grid pooling=max,avg --seeds 2 --epochs 2

A grid (or `--samples K` random points of it) times N seeds; every other engine
option is the base of every trial. Each trial is an ordinary run in the run store
(trained by core.runs.run_process.run_training), tagged with the sweep id; the sweep keeps a small record in
`<runs_dir>/../sweeps/<sweep-id>/sweep.json` (see core.runs.sweeps.record).

Ray is imported only once a sweep really starts, so `import core.sweep` is cheap
and a bad grid is refused (one line, exit 2) before anything starts. By default
a local Ray is started with one trial per CPU; `--address` or $RAY_ADDRESS
connects to a cluster instead (the run store must then be on a filesystem the
workers share). SIGTERM/SIGINT cancels: the `cancel` flag in the sweep folder
makes running trials stop after their batch (their runs end cancelled) and the
queued ones end at once. Exit code: 0 all trials completed, 1 cancelled or some
trials failed, 2 bad options, the sweep could not run, or no trial completed (the
sweep is then `failed`, with the first trial's reason).

The sweep's process is core.runs.sweeps.driver, its Ray side core.runs.sweeps.ray_tune;
the dashboard launches and cancels sweeps through core.runs.launcher and reads
them through core.runs.sweeps.record.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.runs.command_line import OneLineParser, add_train_options, fail
from core.runs.store import DEFAULT_RUNS_DIR, RunStoreError
from core.runs.sweeps.driver import PROG, check_address, mark_failed, run_sweep
from core.runs.sweeps.plan import SweepError, base_options, parse_grid_args, plan
from core.runs.sweeps.ray_extra import RAY_INSTALL, ray_installed
from core.runs.sweeps.record import sweep_path


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Train a grid of runs (times seeds) on Ray Tune; "
                      "every other option is the base of every trial.")
    s = p.add_argument_group("sweep")
    s.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2,...",
                   help="an option and its values (repeat for more axes); widths as 16/32,32/64")
    s.add_argument("--seeds", type=int, default=1, help="seeds per grid point: --seed, --seed+1, ... (default 1)")
    s.add_argument("--samples", type=int, help="train K random points of the grid instead of all of it")
    s.add_argument("--max-concurrent", type=int, help="trials at once (default: one per CPU)")
    s.add_argument("--address", help="a Ray cluster to use (else $RAY_ADDRESS, else a new local Ray)")
    s.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), help="where run directories go")
    s.add_argument("--sweep-id", help=argparse.SUPPRESS)  # a folder reserved by launch_sweep
    add_train_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reserved = None
    if args.sweep_id is not None:
        try:
            reserved = sweep_path(Path(args.runs_dir), args.sweep_id)
        except RunStoreError as e:
            fail(f"{PROG}: error: invalid option --sweep-id: {e}")
    address = args.address or os.environ.get("RAY_ADDRESS") or None
    try:
        if args.max_concurrent is not None and args.max_concurrent < 1:
            raise SweepError("--max-concurrent", f"{args.max_concurrent} is not a whole number >= 1")
        grid = parse_grid_args(args.grid)
        base = base_options(args)
        trials = plan(grid, args.seeds, base, args.samples)
        if not ray_installed():
            raise SweepError("sweeps", f"need Ray, which is not installed: {RAY_INSTALL}")
        if address:
            check_address(address)
    except SweepError as e:
        if reserved is not None:
            mark_failed(reserved, str(e))
        fail(f"{PROG}: error: {e}")
    return run_sweep(trials, grid, base, args, address)


if __name__ == "__main__":
    sys.exit(main())
