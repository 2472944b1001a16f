"""Plotly figures of a sweep: pure functions of plain data (the rows of
core.runs.sweeps.record.sweep_table), no Streamlit."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

ALL = "all"


def _label(value) -> str:
    return ALL if value is None else str(value)


def heatmap_figure(x_values: list, y_values: list, mean: np.ndarray, std: np.ndarray, x: str,
                   y: str | None, metric: str = "test accuracy") -> go.Figure:
    """Mean of `metric` per (x, y) cell; each cell's text is mean ± std across seeds."""
    z = [[None if math.isnan(v) else float(v) for v in row] for row in np.asarray(mean, dtype=float)]
    text = [[("-" if math.isnan(m) else f"{m:.2%} ± {s:.2%}") for m, s in zip(mrow, srow)]
            for mrow, srow in zip(np.asarray(mean, dtype=float), np.asarray(std, dtype=float))]
    fig = go.Figure(go.Heatmap(
        z=z, x=[_label(v) for v in x_values], y=[_label(v) for v in y_values], text=text,
        texttemplate="%{text}", colorscale="Viridis", colorbar=dict(title=metric, tickformat=".1%"),
        hovertemplate=f"{x}=%{{x}}<br>{y or ''}=%{{y}}<br>{metric} %{{text}}<extra></extra>", xgap=2, ygap=2,
    ))
    fig.update_xaxes(title=x, type="category")
    fig.update_yaxes(title=y or "", type="category", autorange="reversed")
    fig.update_layout(title=f"Mean {metric} (± std across seeds)", height=140 + 60 * max(1, len(y_values)),
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def _numeric(values: list) -> list[float] | None:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _dimension(name: str, values: list, categorical: bool = False) -> dict:
    numbers = None if categorical else _numeric(values)
    if numbers is not None and len(set(numbers)) > 1:
        return dict(label=name, values=numbers)
    categories = list(dict.fromkeys(str(v) for v in values))  # in order of first appearance
    if _numeric(categories) is not None:
        categories.sort(key=float)
    index = {c: i for i, c in enumerate(categories)}
    return dict(label=name, values=[index[str(v)] for v in values], tickvals=list(range(len(categories))),
                ticktext=categories, range=[-0.5, len(categories) - 0.5] if len(categories) == 1 else None)


def parallel_figure(rows: list[dict], axes: list[str], metric: str = "test_acc") -> go.Figure:
    """Every finished trial as one line across the grid's options, its seed and `metric`."""
    done = [r for r in rows if r.get("state", "completed") == "completed"
            and isinstance(r.get(metric), (int, float)) and not isinstance(r.get(metric), bool)]
    if not done:
        return go.Figure().update_layout(title="No finished trial yet", height=200)
    dims = [_dimension(a, [r.get(a) for r in done]) for a in axes]
    dims.append(_dimension("seed", [r.get("seed") for r in done], categorical=True))
    accs = [float(r[metric]) for r in done]
    dims.append(dict(label=metric.replace("_", " "), values=accs, tickformat=".1%"))
    for d in dims:
        if d.get("range") is None:
            d.pop("range", None)
    fig = go.Figure(go.Parcoords(
        line=dict(color=accs, colorscale="Viridis", showscale=True, colorbar=dict(tickformat=".1%")),
        dimensions=dims,
    ))
    fig.update_layout(height=380, margin=dict(l=60, r=60, t=50, b=20))
    return fig
