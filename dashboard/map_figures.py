"""The map's plotly figure: test digits coloured by true class, misread ones ringed,
and on top of them a drawing or a handwriting set at their places. No Streamlit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.runs.maps import DigitMap

# Plotly's D3 palette: ten colours a reader tells apart.
CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

MANY_MISREAD = 0.2


def map_figure(digit_map: DigitMap, layout: np.ndarray | None = None, title: str = "", height: int = 560,
               overlay: dict | None = None, drawing: dict | None = None) -> go.Figure:
    """`layout` overrides the map's own (a map turned to match another's). `overlay`:
    {"xy": [M, 2], "labels": [M], "answers": [M], "names": [M]} (a handwriting set);
    `drawing`: {"xy": (x, y), "answer": int, "confidence": float}. Each test digit's
    customdata is its row in the map, for a click to find it."""
    xy = digit_map.layout if layout is None else layout
    fig = go.Figure()
    wrong = digit_map.answers != digit_map.labels
    for c in range(10):
        rows = np.flatnonzero(digit_map.labels == c)
        fig.add_trace(go.Scattergl(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=str(c), legendgroup=str(c),
            marker=dict(size=4, color=CLASS_COLOURS[c], opacity=0.75),
            customdata=np.stack([rows, digit_map.indices[rows], digit_map.answers[rows],
                                 np.round(100 * digit_map.confidence[rows], 1)], 1),
            hovertemplate="true %{text}, read %{customdata[2]} (%{customdata[3]:.1f}%)"
                          "<br>test digit %{customdata[1]}<extra></extra>",
            text=[str(c)] * len(rows)))
    for c in range(10):  # each class's digit where most of its test digits sit
        rows = np.flatnonzero(digit_map.labels == c)
        if len(rows):
            x, y = np.median(xy[rows], 0)
            fig.add_annotation(x=x, y=y, text=f"<b>{c}</b>", showarrow=False, xshift=14, yshift=14,
                               font=dict(size=18, color=CLASS_COLOURS[c]), bgcolor="rgba(255,255,255,0.7)")
    rows = np.flatnonzero(wrong)
    # Rings on most of the map (an untrained model) would hide it: then they wait in the legend.
    many = len(rows) > MANY_MISREAD * len(wrong)
    fig.add_trace(go.Scattergl(
        x=xy[rows, 0], y=xy[rows, 1], mode="markers",
        name=f"misread ({len(rows):,}{', click to show' if many else ''})", visible="legendonly" if many else True,
        marker=dict(size=8, symbol="circle-open", color="rgba(0,0,0,0.6)", line=dict(width=1)),
        customdata=np.stack([rows, digit_map.indices[rows], digit_map.answers[rows],
                             np.round(100 * digit_map.confidence[rows], 1)], 1),
        text=[str(v) for v in digit_map.labels[rows]],
        hovertemplate="misread: true %{text}, read %{customdata[2]} (%{customdata[3]:.1f}%)"
                      "<br>test digit %{customdata[1]}<extra></extra>"))
    if overlay is not None and len(overlay["labels"]):
        labels = np.asarray(overlay["labels"])
        fig.add_trace(go.Scatter(
            x=overlay["xy"][:, 0], y=overlay["xy"][:, 1], mode="markers+text", name="your digits",
            text=[str(v) for v in labels], textposition="middle center",
            textfont=dict(color="white", size=10),
            marker=dict(size=16, symbol="diamond", color=[CLASS_COLOURS[v] for v in labels],
                        line=dict(width=1.5, color="black")),
            customdata=np.stack([labels, overlay["answers"]], 1),
            hovertext=overlay["names"],
            hovertemplate="your %{customdata[0]}, read %{customdata[1]}<br>%{hovertext}<extra></extra>"))
    if drawing is not None:
        x, y = drawing["xy"]
        fig.add_trace(go.Scatter(
            x=[x], y=[y], mode="markers+text", name="your drawing",
            marker=dict(size=24, symbol="star", color="gold", line=dict(width=2, color="black")),
            text=[f"read as {drawing['answer']}"], textposition="top center",
            hovertemplate=f"your drawing: read as {drawing['answer']} ({drawing['confidence']:.0%})<extra></extra>"))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      legend=dict(title="true class", itemsizing="constant"), plot_bgcolor="white",
                      clickmode="event+select", dragmode="pan")
    # The axes have no units: only distances on the map mean anything.
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    return fig
