"""Pictures drawn on the server for views that change with every stroke.

An interactive plotly chart costs the browser a re-render of its whole figure per
update; with several people drawing on one server that, not the model, is what
they wait for. A PNG and a few HTML bars cost the browser almost nothing, so Draw
shows its live probabilities and maps this way and keeps plotly for the pages
where one hovers and zooms."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
import torch.nn.functional as F
from plotly.colors import diverging, unlabel_rgb

# Red = toward the class, blue = away, white = neither: the scale of figures.ATTRIBUTION_COLOURS.
_STOPS = np.array([unlabel_rgb(c) for c in reversed(diverging.RdBu)], dtype=np.float32)
_OUTLINE = np.array([60, 60, 60], dtype=np.float32)


def _colours(values: np.ndarray, limit: float) -> np.ndarray:
    """[H, W] in [-limit, limit] -> RGB float [H, W, 3] on the red-white-blue scale."""
    position = (np.clip(values / limit, -1, 1) + 1) / 2 * (len(_STOPS) - 1)
    stops = np.arange(len(_STOPS))
    return np.stack([np.interp(position, stops, _STOPS[:, c]) for c in range(3)], axis=-1)


def _outline(ink: np.ndarray, size: int) -> np.ndarray:
    """Boolean [size, size]: the edge of the stroke (half-way from paper to full ink),
    traced on a smooth enlargement so it reads as a line, not as blocks."""
    smooth = F.interpolate(torch.as_tensor(ink, dtype=torch.float32)[None, None], size=(size, size),
                           mode="bilinear", align_corners=False)[0, 0].numpy()
    inside = smooth >= (float(ink.min()) + float(ink.max())) / 2
    edge = np.zeros_like(inside)
    edge[1:, :] |= inside[1:, :] != inside[:-1, :]
    edge[:, 1:] |= inside[:, 1:] != inside[:, :-1]
    return edge


def inline(picture: np.ndarray) -> str:
    """A uint8 picture (grey [H, W] or RGB [H, W, 3]) as a PNG data URL. st.image shows a
    data URL as it is; an array would be a media file that every browser fetches
    again per stroke, over the same few connections as the canvas's answer."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def attribution_picture(attribution: np.ndarray, ink: np.ndarray, limit: float | None = None,
                        size: int = 168) -> np.ndarray:
    """An attribution map [H, W] as an RGB picture [size, size, 3] (uint8) with the ink's
    outline in grey; colours are symmetric around zero, `limit` shared across maps."""
    attribution = np.asarray(attribution, dtype=np.float32)
    limit = limit or float(np.abs(attribution).max()) or 1.0
    factor = -(-size // attribution.shape[0])  # nearest-neighbour: one block per input pixel
    blocks = np.kron(attribution, np.ones((factor, factor), dtype=np.float32))[:size, :size]
    rgb = _colours(blocks, limit)
    edge = _outline(np.asarray(ink, dtype=np.float32), rgb.shape[0])
    rgb[edge] = 0.3 * rgb[edge] + 0.7 * _OUTLINE
    return rgb.round().astype(np.uint8)


def probability_bars(probs, height_px: int = 90) -> str:
    """Ten bars, the most probable red, as HTML (numbers only: nothing from a user goes in)."""
    best = int(np.argmax(probs))
    bars = "".join(
        f"<div title='{i}: {p:.1%}' style='flex:1;display:flex;flex-direction:column;justify-content:flex-end;"
        f"align-items:center'><div style='width:70%;height:{max(p, 0.0) * height_px:.0f}px;"
        f"background:{'#d62728' if i == best else '#7f7f7f'}'></div><div style='font-size:0.8rem'>{i}</div></div>"
        for i, p in enumerate(float(p) for p in probs))
    return (f"<div class='probability-bars' style='display:flex;gap:2px;height:{height_px + 20}px'>"
            f"{bars}</div>")
