"""The epoch slider: any page that shows a model can show it at any epoch its run
kept (epoch 0 is the initialisation), from the run's `epochs/` folder."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.engine.datasets import TestSet
from core.runs.evaluation_record import epoch_report
from core.runs.snapshots import list_snapshots, snapshot_path
from dashboard import cached
from dashboard.widgets import PickedModel, load_picked


def _label(epoch: int, kept: int | None, last: int) -> str:
    tags = (["initialisation"] if epoch == 0 else []) + (["kept"] if epoch == kept else []) + \
           (["last"] if epoch == last and epoch != kept else [])
    return f"{epoch} ({', '.join(tags)})" if tags else str(epoch)


def epoch_slider(picked: PickedModel, key: str) -> int | None:
    """A slider over the kept epochs of the picked model's run, starting at the epoch in
    model.pt; None (and a caption) when the run kept no epochs (older runs)."""
    epochs = list_snapshots(picked.path.parent)
    kept = picked.checkpoint.get("epoch")
    if len(epochs) < 2:
        st.caption("This model kept only its final weights: it was made before runs kept every epoch.")
        return None
    start = kept if kept in epochs else epochs[-1]
    # Keyed by run: another run has other epochs.
    return st.select_slider("Epoch", options=epochs, value=start, key=f"{key}_epoch_{picked.path.parent.name}",
                            format_func=lambda e: _label(e, kept, epochs[-1]),
                            help="Drag to see the weights after each epoch; 0 is before any training.")


def at_epoch(picked: PickedModel, epoch: int | None) -> PickedModel | None:
    """The picked model with the weights of `epoch` (model.pt's own when None or the kept epoch)."""
    if epoch is None or epoch == picked.checkpoint.get("epoch"):
        return picked
    return load_picked(snapshot_path(picked.path.parent, epoch), f"{picked.label}, epoch {epoch}")


def model_with_slider(picked: PickedModel, key: str) -> PickedModel | None:
    """The slider for the picked model's run, and the model at the chosen epoch."""
    return at_epoch(picked, epoch_slider(picked, key))


def report_at_epoch(run_dir: Path, epoch: int, dataset: str, side: int, tta: bool) -> dict | None:
    """One epoch's test report: read from the run's cache, or scored once (and cached) now."""
    images, labels, error = cached.test_set(dataset, side)
    if images is None:
        st.warning(f"Cannot score epoch {epoch}: {error}")
        return None
    with st.spinner(f"Scoring epoch {epoch} on the {len(labels):,} test digits (once; it is kept)..."):
        return epoch_report(run_dir, epoch, TestSet(dataset, images, labels), tta)
