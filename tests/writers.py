"""Synthetic writers: each one consistent set of habits, drawn with jitter.

A writer picks one style per digit from tests/handwriting.py's STYLES plus the
habits below (the ones real people are misread on: a 7 with a curved top and a
crossbar, a 1 with a long flag, a 4 in one open stroke, a 9 with a hooked
tail), and draws every sample with its own size, slant, place and brush,
rendered as the Draw page's canvas hands it back.

    for digit, rgba in writer_samples(WRITERS["curly"], per_digit=25, seed=0): ...
"""

from __future__ import annotations

import math

import numpy as np

from tests.handwriting import CANVAS, STYLES, _arc, _join, _line, _spline, render

HABITS = {
    # A 7 whose top bar curves down at the left and rises like a wave, then a crossbar.
    "7-curved-crossed": [
        _join(_spline([(0.12, 0.22), (0.22, 0.06), (0.40, 0.10), (0.60, 0.04), (0.84, 0.02)], 8),
              _line((0.84, 0.02), (0.44, 1.0))),
        _line((0.36, 0.55), (0.84, 0.52)),
    ],
    # A 1 with a long flag from far down on the left, and no base.
    "1-long-flag": [_join(_line((0.18, 0.45), (0.58, 0.0)), _line((0.58, 0.0), (0.54, 1.0)))],
    # An open 4 in one stroke with a short stem below the bar.
    "4-one-stroke": [[(0.20, 0.0), (0.10, 0.55), (0.14, 0.62), (0.80, 0.58), (0.70, 0.05), (0.62, 0.80)]],
    # A 7 whose stem curls to the right at the foot, its top rounded: read as 2.
    "7-curl": [_join(_spline([(0.20, 0.20), (0.35, 0.02), (0.60, 0.04), (0.82, 0.10)], 8),
                     _spline([(0.82, 0.10), (0.55, 0.55), (0.40, 0.85), (0.55, 1.0), (0.75, 0.98)], 8))],
    # A 1 under a hat: a long flag from low on the left: read as 7.
    "1-hat": [_join(_line((0.10, 0.35), (0.60, 0.0)), _line((0.60, 0.0), (0.55, 1.0)))],
    # A 9 with a small head and a tail that hooks far back to the left.
    "9-hooked": [_join(_arc(0.52, 0.22, 0.22, 0.20, 5, -350, 40),
                       _spline([(0.74, 0.24), (0.72, 0.55), (0.60, 0.85), (0.38, 0.98), (0.16, 0.90),
                                (0.10, 0.78)], 10))],
}

# One style per digit for each writer; any digit not named takes its plain style.
PLAIN = {0: "0", 1: "1-plain", 2: "2-loop", 3: "3", 4: "4-closed", 5: "5", 6: "6", 7: "7-plain", 8: "8",
         9: "9-straight"}
WRITERS = {
    "continental": {1: "1-hat", 7: "7-curl", 4: "4-one-stroke", 9: "9-hooked"},
    "flagged": {1: "1-long-flag", 7: "7-curved-crossed", 9: "9-curved", 4: "4-open"},
    "curly": {7: "7-curl", 1: "1-flag-base", 9: "9-hooked", 4: "4-one-stroke"},
    "hurried": {1: "1-hat", 7: "7-curved-crossed", 9: "9-hooked", 4: "4-open", 2: "2-loop"},
    "schoolbook": {1: "1-flag-base", 7: "7-crossed", 4: "4-closed", 9: "9-curved"},
}


def style_strokes(name: str):
    return HABITS.get(name) or STYLES[name]


def _jittered(strokes, rng: np.random.Generator):
    """The unit-box strokes with this sample's slant, size and place, in canvas px."""
    slant = math.tan(math.radians(rng.uniform(-14, 14)))
    height = rng.uniform(110, 210)
    squash = rng.uniform(0.85, 1.15)
    left = rng.uniform(20, CANVAS - 20 - height)
    top = rng.uniform(20, CANVAS - 20 - height)
    wobble = rng.normal(0, 0.01, 2)
    out = []
    for stroke in strokes:
        pts = []
        for x, y in stroke:
            x = 0.5 + (x - 0.5) * squash + slant * (0.5 - y) + wobble[0]
            pts.append((left + x * height, top + (y + wobble[1]) * height))
        out.append(pts)
    return out


def writer_samples(habits: dict[int, str], per_digit: int, seed: int):
    """(digit, 280x280x4 RGBA) pairs: `per_digit` jittered samples of each digit."""
    rng = np.random.default_rng(seed)
    for digit in range(10):
        strokes = style_strokes(habits.get(digit, PLAIN[digit]))
        for _ in range(per_digit):
            yield digit, render(_jittered(strokes, rng), brush=float(rng.uniform(10, 22)), supersample=2)
