"""The Train page's live grid of training digits as the chosen augmentation makes
them: the engine's own `augment`, on a few real training digits, redrawn on
every change of the settings (or on demand, for another random draw)."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from core.engine.augment import Augmentation, augment
from core.engine.datasets import TITLES
from dashboard import cached
from dashboard.train_form import current_value
from dashboard.widgets import upscale

COUNT = 24
COLUMNS = 12


def _grid(images: torch.Tensor) -> np.ndarray:
    """[N, H, W] in [0, 1] -> one uint8 picture, COLUMNS digits a row, 1 px apart."""
    n, h, w = images.shape
    rows = (n + COLUMNS - 1) // COLUMNS
    out = np.full((rows * (h + 1) - 1, COLUMNS * (w + 1) - 1), 60, dtype=np.uint8)
    for i, image in enumerate((images.clamp(0, 1) * 255).round().to(torch.uint8).numpy()):
        r, c = divmod(i, COLUMNS)
        out[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = image
    return out


def show() -> None:
    """The grid for the Train form's current dataset and augmentation settings."""
    dataset = current_value("dataset")
    aug = Augmentation.of({name: current_value(name) for name in Augmentation.OPTIONS})
    st.markdown("**What the augmentation does to training digits**")
    images, error = cached.train_sample(dataset, COUNT)
    if images is None:
        st.info(f"No training digits to show: {error}")
        return
    draw = st.session_state.setdefault("aug_preview_draw", 0)
    if st.button("Another random draw", key="aug_preview_again", icon=":material/casino:"):
        draw = st.session_state["aug_preview_draw"] = draw + 1
    x = images.unsqueeze(1).float() / 255.0
    augmented = augment(x, aug, torch.Generator().manual_seed(draw))[:, 0]
    picture = _grid(torch.cat([x[:, 0][:COLUMNS], augmented[:COLUMNS], x[:, 0][COLUMNS:], augmented[COLUMNS:]]))
    st.image(upscale(picture, 3), caption=f"{TITLES[dataset]}: each original row above its augmented copy "
             f"(affine {aug.affine:g}, elastic {aug.elastic:g}, thickness {aug.thickness:g}, slant {aug.slant:g} deg). "
             "Training draws new numbers for every digit in every epoch.")
