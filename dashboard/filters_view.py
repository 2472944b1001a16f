"""The Filters page's views: conv kernels and feature maps of one model."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from core.engine.data import normalize
from core.engine.image_reading import ImageError
from core.engine.ink import NoDigitError
from core.engine.introspect import conv_kernels, feature_maps
from core.engine.preprocess import prepare_digit
from dashboard import cached, figures
from dashboard.draw_panel import DRAWN_KEY  # the last drawing read on the Draw page, as drawn

MAX_TILES = 128
MEAN = "mean over inputs"


def _kernel_tiles(weights: np.ndarray, layer: str, key: str) -> np.ndarray:
    out_ch, in_ch = weights.shape[:2]
    if in_ch == 1:
        return weights[:, 0]
    choice = st.selectbox(f"{layer}: input channel", [MEAN, *range(in_ch)], key=f"{key}_{layer}_in",
                          help=f"each of the {out_ch} kernels has {in_ch} input slices")
    return weights.mean(1) if choice == MEAN else weights[:, choice]


def show_kernels(model, key: str, per_row: int = 2) -> None:
    layers = conv_kernels(model)
    if not layers:
        st.info("This model has no convolution layers (an MLP): nothing to show here.")
        return
    columns = st.columns(min(per_row, len(layers)))
    for i, layer in enumerate(layers):
        with columns[i % len(columns)]:
            tiles = _kernel_tiles(layer.weights, layer.layer, key)
            shown = tiles[:MAX_TILES]
            title = f"{layer.layer}: {' x '.join(map(str, layer.shape))}"
            st.plotly_chart(figures.kernels_figure(shown, title), key=f"{key}_k_{layer.layer}")
            if len(tiles) > MAX_TILES:
                st.caption(f"first {MAX_TILES} of {len(tiles)} kernels")


def _random_index(key: str, n: int) -> None:
    st.session_state[f"{key}_index"] = random.randrange(n)


@dataclass(frozen=True)
class DigitChoice:
    """The digit the feature maps are of: a test-set index, or the drawing from Draw."""

    index: int | None = None
    drawing: object = None  # the canvas array or uploaded bytes, as drawn

    def for_side(self, side: int) -> tuple[torch.Tensor, np.ndarray] | None:
        """(normalized [1, 1, side, side] tensor, the uint8 image) for a model fed `side`:
        each model sees the digit laid out for its own input, as on Draw."""
        if self.drawing is not None:
            try:
                prepared = prepare_digit(self.drawing, side)
            except (NoDigitError, ImageError) as e:
                st.info(f"The drawn digit cannot be shown: {e}")
                return None
            return prepared.tensor, prepared.laid_out
        images, _, _ = cached.test_set("mnist", side)
        image = images[self.index].numpy()
        return normalize(torch.from_numpy(image.copy())[None]), image


def pick_digit(key: str) -> DigitChoice | None:
    """The input digit: a test-set image by index or at random, or the one drawn on the Draw page;
    None after saying why there is none."""
    images, labels, error = cached.test_set("mnist")
    sources = ((["Test-set digit"] if images is not None else [])
               + (["Drawn digit"] if DRAWN_KEY in st.session_state else []))
    if not sources:
        st.info("Draw a digit on the Draw page to see its feature maps "
                f"(the MNIST test set is not available: {error}).")
        return None
    source = st.radio("Digit", sources, horizontal=True, key=f"{key}_source")
    if source == "Drawn digit":
        return DigitChoice(drawing=st.session_state[DRAWN_KEY])
    c1, c2 = st.columns([3, 1])
    index = c1.number_input("Test-set index", min_value=0, max_value=len(images) - 1, step=1, key=f"{key}_index")
    c2.button("Random digit", on_click=_random_index, args=(key, len(images)), key=f"{key}_random",
              icon=":material/casino:")
    st.caption(f"label: {int(labels[int(index)])}")
    return DigitChoice(index=int(index))


@torch.inference_mode()
def predicted(model, x: torch.Tensor) -> int:
    return int(model(x).argmax(1))


def show_feature_maps(model, x: torch.Tensor, key: str, per_row: int = 2) -> None:
    maps = feature_maps(model, x)
    columns = st.columns(per_row)
    for i, fm in enumerate(maps):
        with columns[i % per_row]:
            if fm.maps.ndim == 3:
                title = f"{fm.layer}: {fm.maps.shape[0]} maps of {fm.maps.shape[1]}x{fm.maps.shape[2]}"
                st.plotly_chart(figures.maps_figure(fm.maps[:MAX_TILES], title), key=f"{key}_fm_{fm.layer}")
            else:
                is_output = i == len(maps) - 1 and fm.maps.size == 10
                labels = [str(d) for d in range(10)] if is_output else None
                title = f"{fm.layer}: {fm.maps.size} units" + (" (class scores)" if is_output else "")
                st.plotly_chart(figures.dense_figure(fm.maps, title, labels), key=f"{key}_fm_{fm.layer}")
