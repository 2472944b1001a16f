"""Digits as real people write them, for drawing on the Draw page's canvas.

Each style is a list of strokes (pen down ... pen up), each stroke a list of
(x, y) points in a unit box [0, 1] x [0, 1] with y pointing down, in the
order a writer's pen moves. The digit keeps its natural aspect: it is 1 tall
and only as wide as it is written (a 1 spans a narrow band of x around 0.5),
so placing it scales both axes by the same factor.

The styles cover school handwriting across countries: the plain 1 and the
continental 1 with its up-stroke flag and base serif, the plain and the
crossed 7, the open-top 4 written in one stroke and the closed 4, the 9 with
a straight stem and with a hooked tail, the 2 with a loop at its foot, and
common forms of 0, 3, 5, 6 and 8. Curves are sampled densely (a point every
1-2 % of the height) so that a mouse following them draws a smooth line.

    strokes = canvas_strokes(STYLES["7-crossed"], PLACEMENTS["large-centred"])
    rgba = render(strokes, brush=18)  # 280x280x4 uint8, like the canvas hands back
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]
Stroke = list[Point]

CANVAS = 280  # the Draw page's canvas is 280 x 280 px

# ---------------------------------------------------------------- curve helpers


def _spline(points: list[Point], per_segment: int = 8) -> Stroke:
    """A centripetal-free (uniform) Catmull-Rom curve through `points`, sampled
    `per_segment` times between each pair: smooth and passing every point."""
    pts = [points[0], *points, points[-1]]
    out: Stroke = [points[0]]
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(1, per_segment + 1):
            t = k / per_segment
            t2, t3 = t * t, t * t * t
            out.append(tuple(
                0.5 * (2 * p1[j] + (-p0[j] + p2[j]) * t + (2 * p0[j] - 5 * p1[j] + 4 * p2[j] - p3[j]) * t2
                       + (-p0[j] + 3 * p1[j] - 3 * p2[j] + p3[j]) * t3)
                for j in (0, 1)))
    return out


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 32) -> Stroke:
    """Points on an ellipse from angle `start` to `end` (degrees, 0 = right,
    90 = down since y points down; decreasing angles run anticlockwise on screen)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, n)]


def _line(a: Point, b: Point, n: int = 2) -> Stroke:
    """A straight pen move; two points are enough (the mouse interpolates)."""
    return [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for t in np.linspace(0.0, 1.0, n)]


def _join(*parts: Stroke) -> Stroke:
    """One pen-down stroke from consecutive parts (a repeated joint point is dropped)."""
    out: Stroke = []
    for part in parts:
        for p in part:
            if not out or math.dist(out[-1], p) > 1e-9:
                out.append((float(p[0]), float(p[1])))
    return out


# ---------------------------------------------------------------- the styles


def _nine(tail: Stroke) -> list[Stroke]:
    # The head: starting on its right side, anticlockwise all the way round
    # (up, over, down the left, back along the bottom), then the stem.
    head = _arc(0.47, 0.27, 0.25, 0.25, 5, -350, 40)
    return [_join(head, tail)]


STYLES: dict[str, list[Stroke]] = {
    # A single down-stroke, leaning a little as handwriting does.
    "1-plain": [_line((0.53, 0.0), (0.47, 1.0))],
    # Continental 1: a long up-stroke (flag) to the top, straight down, then a base serif.
    "1-flag-base": [
        _join(_line((0.30, 0.30), (0.56, 0.0)), _line((0.56, 0.0), (0.52, 1.0))),
        _line((0.32, 1.0), (0.72, 1.0)),
    ],
    # Top bar left to right, then the diagonal down, in one stroke.
    "7-plain": [_line((0.20, 0.04), (0.82, 0.04)) + [(0.42, 1.0)]],
    # Continental 7: a small lead-in tick, bar, diagonal; then a bar across the middle.
    "7-crossed": [
        [(0.19, 0.14), (0.20, 0.04), (0.82, 0.04), (0.42, 1.0)],
        _line((0.42, 0.53), (0.80, 0.53)),
    ],
    # Open-top 4 in one stroke, the way many write it fast: down the left arm,
    # across, up to the top of the stem and straight down the whole stem.
    "4-open": [[(0.22, 0.02), (0.17, 0.62), (0.72, 0.62), (0.70, 0.02), (0.69, 1.0)]],
    # Closed 4: diagonal from the top of the stem down-left, across; then the stem.
    "4-closed": [
        [(0.63, 0.0), (0.12, 0.66), (0.88, 0.66)],
        _line((0.63, 0.0), (0.63, 1.0)),
    ],
    # 9 with a straight stem from the right of the head down to the baseline.
    "9-straight": _nine(_line((0.72, 0.29), (0.70, 1.0))),
    # 9 whose stem curves down and hooks back left at the bottom.
    "9-curved": _nine(_spline([(0.72, 0.29), (0.71, 0.60), (0.66, 0.86), (0.52, 0.99), (0.36, 0.98),
                                (0.28, 0.90)], 10)),
    # 2 with a loop at its foot: over the top, down the diagonal, a small curl
    # at the bottom left, then the base to the right.
    "2-loop": [_spline([(0.18, 0.24), (0.28, 0.07), (0.48, 0.0), (0.70, 0.06), (0.78, 0.24),
                        (0.70, 0.44), (0.50, 0.64), (0.32, 0.80), (0.20, 0.91), (0.12, 0.99),
                        (0.06, 0.94), (0.10, 0.85), (0.22, 0.86), (0.35, 0.94), (0.50, 0.97),
                        (0.66, 0.96), (0.84, 0.95)], 8)],
    # 6: from the top right, down the left side, round the bottom, and the loop closing back.
    "6": [_spline([(0.70, 0.02), (0.52, 0.08), (0.36, 0.22), (0.25, 0.44), (0.22, 0.66),
                   (0.28, 0.88), (0.47, 0.99), (0.67, 0.93), (0.76, 0.76), (0.70, 0.58),
                   (0.50, 0.52), (0.32, 0.58), (0.23, 0.70)], 8)],
    # 8 in one stroke: from the top right anticlockwise over the top, down through
    # the waist to the lower right, round the bottom and back up through the waist.
    "8": [_spline([(0.70, 0.13), (0.61, 0.03), (0.47, 0.0), (0.32, 0.05), (0.27, 0.18),
                   (0.34, 0.32), (0.50, 0.44), (0.68, 0.56), (0.76, 0.72), (0.72, 0.90),
                   (0.52, 1.0), (0.31, 0.94), (0.24, 0.78), (0.32, 0.60), (0.50, 0.46),
                   (0.65, 0.34), (0.71, 0.18), (0.63, 0.05)], 8)],
    # 0: an oval from the top, anticlockwise, overlapping a little where it closes.
    "0": [_arc(0.50, 0.50, 0.31, 0.50, -95, -95 - 370, 48)],
    # 3: two bowls, the upper one smaller, meeting in the middle.
    "3": [_spline([(0.22, 0.14), (0.36, 0.03), (0.54, 0.0), (0.71, 0.08), (0.74, 0.24),
                   (0.62, 0.40), (0.44, 0.47), (0.62, 0.50), (0.77, 0.62), (0.78, 0.80),
                   (0.64, 0.95), (0.44, 1.0), (0.26, 0.95), (0.18, 0.86)], 8)],
    # 5: down the short stem, round the belly to the bottom left; then the flag.
    "5": [
        _join([(0.30, 0.02), (0.27, 0.43)],
              _spline([(0.27, 0.43), (0.42, 0.37), (0.60, 0.39), (0.75, 0.52), (0.78, 0.72),
                       (0.68, 0.92), (0.48, 1.0), (0.30, 0.97), (0.18, 0.87)], 8)),
        _line((0.30, 0.02), (0.78, 0.02)),
    ],
}

# Where the digit goes on the 280 px canvas, as (left, top, width, height) in
# canvas pixels. The digit is scaled by the height and centred in the box.
# The small box (a corner, 100 px: an eighth of the canvas's area) keeps ~25 px from
# the edges so a 35-40 px brush stays on the canvas. At 70 px a 35 px brush closes
# the loops of 0, 6, 8 and 9 into blobs nobody can read (the Draw page warns then).
PLACEMENTS: dict[str, tuple[float, float, float, float]] = {
    "large-centred": (40.0, 40.0, 200.0, 200.0),
    "small-corner": (25.0, 25.0, 100.0, 100.0),
}


def digit_of(style_name: str) -> int:
    """The digit a style name stands for: "7-crossed" -> 7."""
    return int(style_name.split("-")[0])


def canvas_strokes(style: list[Stroke], placement: tuple[float, float, float, float]) -> list[Stroke]:
    """A style's unit-box strokes -> canvas pixels in the placement box, aspect kept:
    both axes are scaled by the box height, and the unit box is centred in the box."""
    left, top, width, height = placement
    x0 = left + (width - height) / 2.0
    return [[(x0 + x * height, top + y * height) for x, y in stroke] for stroke in style]


def render(strokes: list[Stroke], brush: float, size: int = CANVAS, supersample: int = 4) -> np.ndarray:
    """Strokes in canvas pixels -> size x size x 4 uint8 RGBA as the canvas hands it
    back: opaque black background, white lines `brush` px wide with round caps and
    joins, drawn `supersample` times larger and downsampled for antialiasing."""
    s = supersample
    img = Image.new("L", (size * s, size * s), 0)
    draw = ImageDraw.Draw(img)
    width = max(1, round(brush * s))
    r = brush * s / 2.0
    for stroke in strokes:
        pts = [(x * s, y * s) for x, y in stroke]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=width, joint="curve")
        for x, y in pts:  # round caps, and round joins wherever PIL's are not
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    gray = np.asarray(img.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
    rgba = np.empty((size, size, 4), dtype=np.uint8)
    rgba[..., :3] = gray[..., None]
    rgba[..., 3] = 255
    return rgba
