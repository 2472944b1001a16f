"""The Handwriting page's parts: pick or make a set, collect digits with the mouse,
import, browse and delete, see how a model reads the set, and adapt a model to it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.engine.handwriting import HandwritingDataError, handwriting_report, read_handwriting
from core.engine.image_reading import ImageError, open_image
from core.engine.ink import NoDigitError, ink_map
from core.runs.checkpoint import CheckpointError
from core.runs.handwriting_sets import HandwritingError, HandwritingSet, handwriting_dir_setting, list_sets
from core.runs.launcher import launch_adaptation
from core.runs.store import DEFAULT_MODEL_DIR, is_valid_run_id
from dashboard import cached, figures
from dashboard.drawing_canvas import SIDE as CANVAS_SIDE
from dashboard.drawing_canvas import drawing_canvas
from dashboard.links import page_link

SET_KEY = "handwriting_set"  # the set chosen here, also where Draw's "right / it was" buttons add


def pick_set(key: str = SET_KEY) -> HandwritingSet | None:
    """Choose a set, or name a new one; None when there is none yet."""
    root = handwriting_dir_setting()
    names = list_sets(root)
    new = "+ new set"
    made = st.session_state.pop(f"{key}_made", None)
    if made in names:  # the set named on the last run: the picker moves to it
        st.session_state[f"{key}_pick"] = made
    choice = st.selectbox("Handwriting set", [*names, new], key=f"{key}_pick",
                          help=f"Your digits stay on this machine, in {root}")
    if choice == new:
        name = st.text_input("Name of the new set", key=f"{key}_new", max_chars=40, placeholder="e.g. my-digits")
        if not name:
            return None
        try:
            hw = HandwritingSet.create(name, root, canvas=(CANVAS_SIDE, CANVAS_SIDE))
        except HandwritingError as e:
            st.error(str(e))
            return None
        st.session_state[SET_KEY] = str(hw.path)
        st.session_state[f"{key}_made"] = hw.name
        st.rerun()
    hw = HandwritingSet(root / choice)
    st.session_state[SET_KEY] = str(hw.path)
    return hw


def has_ink(rgba) -> bool:
    try:
        ink_map(open_image(rgba))
        return True
    except (NoDigitError, ImageError):
        return False


def collect(hw: HandwritingSet, per_digit: int) -> None:
    """Asks for each digit in turn, `per_digit` of each; the canvas clears after each sample."""
    counts = hw.counts()
    wanted = [d for d in range(10) if counts[d] < per_digit]
    done = sum(min(c, per_digit) for c in counts)
    st.progress(done / (10 * per_digit), text=f"{done} of {10 * per_digit}")
    if not wanted:
        st.success(f"{per_digit} of every digit collected. Adapt a model below, or collect more.")
        return
    digit = wanted[0]
    with st.container(key="collect-asked"):
        st.markdown(f"Write a <span style='font-size:6rem;font-weight:700'>{digit}</span>", unsafe_allow_html=True)
    round_ = st.session_state.setdefault("collect_round", 0)
    brush = st.slider("Brush width", 4, 40, 18, key="collect_brush")
    drawn = drawing_canvas(f"collect_canvas_{round_}", brush)
    add, undo = st.columns(2)
    if add.button(f"Add this {digit}", key="collect_add", type="primary",
                  disabled=drawn is None or not has_ink(drawn)):
        sample = hw.add(digit, drawn)
        st.session_state["collect_last"] = (sample.digit, sample.id)
        st.session_state["collect_round"] = round_ + 1
        st.rerun()
    last = st.session_state.get("collect_last")
    if undo.button("Undo the last sample", key="collect_undo", disabled=last is None):
        hw.delete_sample(*last)
        st.session_state["collect_last"] = None
        st.rerun()


def import_archive(hw: HandwritingSet) -> None:
    upload = st.file_uploader("Import a zip in the same layout (<digit>/<image>)", type=["zip"], key="hw_import")
    if upload is not None and st.button("Import", key="hw_import_go"):
        try:
            added = hw.import_zip(upload.getvalue())
            st.success(f"Imported {len(added)} samples.")
        except HandwritingError as e:
            st.error(f"Nothing imported: {e}")


def browse(hw: HandwritingSet) -> None:
    samples = hw.samples()
    if not samples:
        st.caption("No samples yet.")
        return
    for digit in range(10):
        of_digit = [s for s in samples if s.digit == digit]
        if not of_digit:
            continue
        with st.expander(f"{digit}: {len(of_digit)} samples"):
            for sample, col in zip(of_digit, st.columns(8) * (len(of_digit) // 8 + 1)):
                with col:
                    st.image(str(sample.path), width=64)
                    if st.button("Delete", key=f"hw_del_{sample.id}"):
                        hw.delete_sample(sample.digit, sample.id)
                        st.rerun()
    with st.popover("Delete the whole set"):
        st.write(f"This deletes {len(samples)} samples from {hw.path}. Runs adapted from it keep only its name, "
                 "counts and hash.")
        if st.button("Delete it", key="hw_delete_set", type="primary"):
            hw.delete()
            st.rerun()


def how_it_reads(hw: HandwritingSet, picked) -> None:
    """A model's accuracy on the set, per digit, its confusion and the misread samples."""
    try:
        digits = read_handwriting(hw.path, picked.cfg.input_side())
    except HandwritingDataError as e:
        st.info(str(e))
        return
    report = handwriting_report(picked.model, digits)
    st.metric(f"{picked.label} on '{hw.name}'", f"{report['accuracy']:.1%}",
              help=f"all {report['samples']} samples of the set; a run adapted from it was taught some of them")
    per_digit = pd.DataFrame([{"digit": c["class"], "samples": c["support"], "read right": c["recall"]}
                              for c in report["per_class"] if c["support"]])
    left, right = st.columns(2)
    left.dataframe(per_digit, hide_index=True, column_config={
        "read right": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)})
    right.plotly_chart(figures.confusion_figure(report["confusion"], normalized=False), key="hw_confusion")
    wrong = report["misclassified"]
    if wrong:
        st.caption(f"{len(wrong)} misread")
        for m, col in zip(wrong, st.columns(6) * (len(wrong) // 6 + 1)):
            with col:
                st.image(str(hw.path / m["file"]), width=64)
                st.caption(f"{m['true']} read as {m['pred']} ({max(m['probs']):.0%})")


def adapt_button(hw: HandwritingSet, picked) -> str | None:
    """Launch `python -m core.adapt` in the background; returns the new run id."""
    counts = hw.counts()
    if min(counts) < 1:
        st.caption("Adapting needs at least one sample of every digit.")
        return None
    name = st.text_input("Name of the adapted run", value=f"{hw.name} on {picked.label}"[:100], key="hw_adapt_name")
    if st.button("Adapt this model to my handwriting", key="hw_adapt", type="primary"):
        return launch_adaptation(Path(picked.path).parent, hw.path, cached.runs_dir(), name)
    return None


TEST_SIZES = {"mnist": 10_000, "usps": 2_007}
HANDFUL = 50  # under this many digits, a figure says it rests on a handful


def _change(n: int, unit: str, what: str) -> str | None:
    return f"{n:+d} {unit} {what}" if n else f"no change: {what}"


def _colour(n: int) -> str:
    return "normal" if n else "off"  # a change of zero is neither good news nor bad


def what_changed(run_id: str) -> None:
    """Once an adaptation completes: its before/after figures and links that show the
    parent and the adapted model side by side."""
    run = cached.fresh_run(run_id)
    if run is None or run.state != "completed":
        return
    summary = (run.status or {}).get("summary") or {}
    parent = Path(((run.config or {}).get("adapted_from") or {}).get("run", "")).name
    cols = st.columns(2)
    held = ((run.config or {}).get("handwriting") or {}).get("held_out")
    if summary.get("handwriting_acc") is not None and isinstance(held, int) and held > 0:
        right, before = round(summary["handwriting_acc"] * held), round(summary["parent_handwriting_acc"] * held)
        few = " (a handful: each digit moves this by a lot)" if held < HANDFUL else ""
        cols[0].metric(f"Your {held} held-out digits{few}", f"{right} of {held} read right",
                       _change(right - before, "digits", "against the parent"), delta_color=_colour(right - before),
                       help=f"{summary['handwriting_acc']:.1%} of {held} digits of yours the adapted model was "
                            f"never taught; the parent read {before} of them right")
    else:
        cols[0].caption("Every sample was taught: there is no held-out figure.")
    if summary.get("parent_test_acc") is not None:
        dataset = (run.config or {}).get("dataset", "mnist")
        size = TEST_SIZES.get(dataset, 10_000)
        change = round((summary["test_acc"] - summary["parent_test_acc"]) * size)
        cols[1].metric(f"{dataset.upper()} test ({size:,} digits)", f"{summary['test_acc']:.2%}",
                       _change(change, "digits", "read right: the cost of adapting"), delta_color=_colour(change))
    if not (is_valid_run_id(parent) or parent == DEFAULT_MODEL_DIR.name) or not is_valid_run_id(run_id):
        return  # a folder name from a file goes into a link only when it is an id
    # The default model's folder is named default-model: both pages find it by that id too.
    links = [f":material/draw: [Draw: the parent and the adapted model side by side]"
             f"({page_link('draw', runs=[parent, run_id])})",
             f":material/filter: [Filters: their kernels and feature maps side by side]"
             f"({page_link('filters', run=parent, compare=run_id)})"]
    set_name = ((run.config or {}).get("handwriting") or {}).get("name")
    if isinstance(set_name, str) and set_name in list_sets(handwriting_dir_setting()):
        links.append(f":material/scatter_plot: [Map: where your digits sit, before and after]"
                     f"({page_link('map', run=parent, compare=run_id, set=set_name)})")
    st.markdown(" · ".join(links))


@st.cache_data(max_entries=8, show_spinner=False)
def set_digits(set_path: str, side: int, content_hash: str):
    """A set laid out once per model side (the hash keys it to the set's contents)."""
    return read_handwriting(set_path, side)


@st.cache_data(max_entries=512, show_spinner=False)
def _accuracy(model_path: str, mtime: float, set_path: str, content_hash: str) -> float | None:
    try:
        model, cfg, _ = cached.get_model(Path(model_path))
        digits = set_digits(set_path, cfg.input_side(), content_hash)
    except (HandwritingDataError, CheckpointError):
        return None
    return handwriting_report(model, digits)["accuracy"]


def accuracy_column(runs, key: str = "runs_handwriting") -> tuple[str, list] | None:
    """The Runs table's column for a set the user picks: each run's accuracy on all of it."""
    names = list_sets(handwriting_dir_setting())
    if not names:
        return None
    name = st.selectbox("Score every run on a handwriting set", [None, *names], key=key,
                        format_func=lambda n: "no set" if n is None else n)
    if name is None:
        return None
    hw = HandwritingSet(handwriting_dir_setting() / name)
    digest = hw.content_hash()
    values = []
    with st.spinner(f"Scoring the runs on '{name}'..."):
        for run in runs:
            path = run.path / "model.pt"
            ok = run.state == "completed" and run.has_model and not run.broken
            values.append(_accuracy(str(path), path.stat().st_mtime, str(hw.path), digest) if ok else None)
    return f"on '{name}'", values
