"""Plotly figure builders. Pure functions of plain data, no Streamlit."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

SPLITS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
METRICS = {
    "val_acc": "validation accuracy", "test_acc": "test accuracy", "train_acc": "train accuracy",
    "val_loss": "validation loss", "test_loss": "test loss", "train_loss": "train loss",
    "gap": "generalization gap (train acc - val acc)", "epoch_seconds": "epoch time (s)", "lr": "learning rate",
}


def _layout(fig: go.Figure, title: str, height: int = 320, **kwargs) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), **kwargs)
    return fig


def metric_values(rows: list[dict], metric: str) -> list[float]:
    if metric == "gap":
        return [row["train_acc"] - row["val_acc"] for row in rows]
    return [row[metric] for row in rows]


def curves_figure(rows: list[dict], kind: str, trace: list | None = None,
                  names: dict[str, str] | None = None) -> go.Figure:
    """Train/val/test curves of one run; kind is 'loss' or 'acc'. `trace` (from a
    live run's progress.json) adds the running train value within epochs. `names`
    says what each split's digits are (an adaptation's "val" is the person's held-out
    digits); a split with no value at all is left out, not drawn empty."""
    names = {**{split: split for split in SPLITS}, **(names or {})}
    fig = go.Figure()
    epochs = [row["epoch"] for row in rows]
    if trace:
        column = 1 if kind == "loss" else 2
        points = [p for p in trace if isinstance(p[column], (int, float))]
        fig.add_scatter(x=[p[0] for p in points], y=[p[column] for p in points], name=f"{names['train']} (running)",
                        mode="lines", line=dict(color=SPLITS["train"], width=1, dash="dot"))
        epochs = epochs or [1]
    for split, colour in SPLITS.items():
        values = metric_values(rows, f"{split}_{kind}") if rows else []
        if not any(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            continue
        fig.add_scatter(x=epochs, y=values, name=names[split], mode="lines+markers", line=dict(color=colour))
    title = "Loss" if kind == "loss" else "Accuracy"
    axis = dict(yaxis=dict(title="accuracy", range=[0, 1.02], tickformat=".0%")) if kind == "acc" else \
        dict(yaxis_title="loss")
    return _layout(fig, title, xaxis=_epoch_axis(epochs), **axis,
                   legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))  # above: clear of the axis title


def _epoch_axis(epochs: list[int]) -> dict:
    """Whole epochs on the x axis (no 0.5 ticks for short runs)."""
    return dict(title="epoch", dtick=1 if len(epochs) <= 20 else None, tick0=1)


def overlay_figure(series: dict[str, list[dict]], metric: str) -> go.Figure:
    """One line per run for one metric."""
    fig = go.Figure()
    for label, rows in series.items():
        fig.add_scatter(x=[row["epoch"] for row in rows], y=metric_values(rows, metric), name=label,
                        mode="lines+markers")
    longest = max((len(rows) for rows in series.values()), default=0)
    return _layout(fig, METRICS.get(metric, metric), height=420, xaxis=_epoch_axis(list(range(longest))),
                   legend=dict(orientation="h", y=-0.2))


def confusion_figure(confusion: list[list[int]], normalized: bool) -> go.Figure:
    """Rows = true class, columns = predicted class; the text is always the count."""
    counts = np.asarray(confusion, dtype=np.int64)
    if normalized:
        z = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        hover = "true %{y}, predicted %{x}<br>%{z:.2%} of the row (%{text} digits)<extra></extra>"
    else:
        z = counts
        hover = "true %{y}, predicted %{x}<br>%{z} digits<extra></extra>"
    # A log-like colour scale would hide the diagonal's dominance; instead cap the colour at the
    # largest off-diagonal value so mistakes are visible, the diagonal saturates.
    off = z.astype(float).copy()
    np.fill_diagonal(off, 0)
    zmax = float(off.max()) or float(z.max()) or 1.0
    classes = [str(c) for c in range(len(counts))]
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=classes, y=classes, text=counts.tolist(),
        texttemplate="%{z:.1%}" if normalized else "%{text}",
        colorscale="Blues", zmin=0, zmax=zmax, hovertemplate=hover, showscale=False,
    ))
    # Plotly cannot select heatmap cells, so an invisible marker sits on every cell: clicking a cell
    # selects its marker (and shades the cell), and the app reads the marker's x (pred) and y (true).
    cells = [(t, p) for t in range(len(counts)) for p in range(len(counts))]
    fig.add_scatter(
        x=[classes[p] for _, p in cells], y=[classes[t] for t, _ in cells], mode="markers",
        marker=dict(symbol="square", size=34, color="black", opacity=0), showlegend=False,
        customdata=[[int(counts[t, p]), float(z[t, p])] for t, p in cells],
        hovertemplate=hover.replace("%{z:.2%}", "%{customdata[1]:.2%}").replace("%{z}", "%{customdata[0]}")
        .replace("%{text}", "%{customdata[0]}"),
        selected=dict(marker=dict(opacity=0.25)), unselected=dict(marker=dict(opacity=0)),
    )
    fig.data[0].hoverinfo = "skip"
    fig.data[0].hovertemplate = None
    fig.update_yaxes(autorange="reversed", title="true class", type="category")
    fig.update_xaxes(title="predicted class", side="top", type="category")
    return _layout(fig, "", height=520)


def per_class_figure(per_class: list[dict]) -> go.Figure:
    fig = go.Figure()
    classes = [str(row["class"]) for row in per_class]
    for metric in ("precision", "recall", "f1"):
        fig.add_bar(x=classes, y=[row[metric] for row in per_class], name=metric)
    low = min((row[m] for row in per_class for m in ("precision", "recall", "f1")), default=0.0)
    return _layout(fig, "Per-class metrics", barmode="group", xaxis_title="class",
                   yaxis=dict(range=[max(0.0, low - 0.02), 1.0]), legend=dict(orientation="h"))


def mosaic(tiles: np.ndarray, columns: int | None = None) -> np.ndarray:
    """[n, h, w] -> one 2-D array of tiles in a grid, separated by NaN (blank) lines."""
    n, h, w = tiles.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan, dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = tile
    return out


def _image_figure(image: np.ndarray, title: str, height: int, **heatmap) -> go.Figure:
    # numpy in, one constructor call: plotly validates nested lists value by value and each
    # update_* call again (52 ms for an attribution map before, under 10 now; Draw draws three
    # a stroke). NaN cells stay blank: plotly's JSON writes them as null.
    axis = dict(showticklabels=False, showgrid=False, zeroline=False)
    return go.Figure(go.Heatmap(z=np.asarray(image, dtype=np.float32), **heatmap), layout=dict(
        title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(axis, constrain="domain"), yaxis=dict(axis, autorange="reversed", scaleanchor="x")))


def kernels_figure(tiles: np.ndarray, title: str, height: int = 360) -> go.Figure:
    """Conv kernels [n, k, k] in a grid, RdBu, symmetric around zero (red < 0 < blue)."""
    limit = float(np.nanmax(np.abs(tiles))) or 1.0
    return _image_figure(mosaic(tiles), title, height, colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit,
                         hovertemplate="%{z:.3f}<extra></extra>")


def maps_figure(maps: np.ndarray, title: str, height: int = 360) -> go.Figure:
    """Feature maps [c, h, w] in a grid; each map keeps the layer's common scale."""
    return _image_figure(mosaic(maps), title, height, colorscale="Viridis",
                         hovertemplate="%{z:.3f}<extra></extra>")


def dense_figure(units: np.ndarray, title: str, labels: list[str] | None = None) -> go.Figure:
    """A dense layer: bars for a few units (or the 10 outputs), a heat strip for many."""
    units = np.asarray(units, dtype=float).ravel()
    if labels is not None or len(units) <= 32:
        x = labels or [str(i) for i in range(len(units))]
        fig = go.Figure(go.Bar(x=x, y=units.tolist(), hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
        fig.update_xaxes(type="category")
        return _layout(fig, title, height=240)
    fig = go.Figure(go.Heatmap(z=[units.tolist()], colorscale="Viridis",
                               hovertemplate="unit %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(showticklabels=False)
    return _layout(fig, title, height=160)


def digit_figure(image: np.ndarray, title: str = "", height: int = 240) -> go.Figure:
    fig = _image_figure(np.asarray(image, dtype=np.float32), title, height, colorscale="gray",
                        showscale=False, hovertemplate="%{z:.0f}<extra></extra>")
    return fig


# Red = the pixel pushes the score toward the class, blue = away from it (RdBu reversed).
ATTRIBUTION_COLOURS = "RdBu_r"


def attribution_figure(attribution: np.ndarray, digit: np.ndarray, title: str, height: int = 260,
                       limit: float | None = None) -> go.Figure:
    """An attribution map [H, W] with the digit's outline drawn over it: red pushes toward
    the class, blue away, white neither. The colours are symmetric around zero; pass one
    `limit` to several maps to put them on the same scale. `digit` is ink [H, W], any range."""
    attribution = np.asarray(attribution, dtype=np.float32)
    limit = limit or float(np.abs(attribution).max()) or 1.0
    fig = _image_figure(attribution, title, height, colorscale=ATTRIBUTION_COLOURS, zmid=0, zmin=-limit,
                        zmax=limit, showscale=False,
                        hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>")
    ink = np.asarray(digit, dtype=np.float32)
    level = float(ink.min() + ink.max()) / 2  # the stroke's edge: half-way from paper to full ink
    fig.add_contour(z=ink, showscale=False, hoverinfo="skip", line=dict(width=1.5),
                    colorscale=[[0, "rgba(60,60,60,0.7)"], [1, "rgba(60,60,60,0.7)"]],
                    contours=dict(coloring="lines", start=level, end=level, size=1))
    return fig
