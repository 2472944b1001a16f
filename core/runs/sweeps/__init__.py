"""Sweeps: a grid of runs trained on Ray Tune, beside the run store.

`plan` turns a grid into validated trials, `record` reads and writes a sweep's
sweep.json (and is all a page needs), `driver` is the sweep's own process,
`ray_tune` its Ray side (the one module that imports Ray), and `ray_extra` says
whether Ray is installed without importing any of them.
"""
