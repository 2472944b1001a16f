"""Draw's teach panel and your model.

After a prediction one click says it was right or gives the digit meant; the
drawing joins the chosen handwriting set and the canvas clears. With "Learn from
my corrections" on, each click also starts a round of your model (a learning
run from the model shown, core.runs.learning_run, kept up by a `python -m
core.adapt --follow` child): Draw then reads every stroke with its newest
weights, says what it is, and one click goes back to the parent.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.runs.handwriting_sets import HandwritingError, HandwritingSet
from core.runs.launcher import learn_from_set
from core.runs.learning_run import find_learning_run, model_updated_at, seconds_since
from core.runs.states import LIVE_STATES
from core.runs.store import DEFAULT_MODEL_DIR, is_valid_run_id
from dashboard import cached
from dashboard.handwriting_view import SET_KEY, pick_set
from dashboard.links import page_link
from dashboard.widgets import PickedModel, load_picked

LEARN_KEY = "draw_learn"  # the switch; on by default once a set is chosen
PARENT_KEY = "draw_use_parent"  # "back to the parent": the parent answers, your model stays
_RUN_IDS = "draw_learning_runs"  # (parent sha256, set path, set created) -> run id, before the listing has it


def canvas_key() -> str:
    """Draw's canvas key: a new one (a cleared canvas) after each drawing taught."""
    n = st.session_state.get("draw_taught", 0)
    return "canvas" if n == 0 else f"canvas-{n}"


def _chosen_set() -> HandwritingSet | None:
    path = st.session_state.get(SET_KEY)
    if not path:
        return None
    try:
        return HandwritingSet(Path(path))
    except HandwritingError:
        return None


def _own_run(picked: PickedModel, hw: HandwritingSet) -> bool:
    """Whether the model picked is itself your model of this set (picked to see its epochs)."""
    run = cached.fresh_run(picked.path.parent.name)
    record = ((run.config or {}).get("handwriting") or {}) if run is not None else {}
    return (run is not None and ((run.config or {}).get("learning") or {}).get("mode") == "corrections"
            and record.get("name") == hw.name and record.get("created_at") == hw.manifest.get("created_at"))


def _learning(parent: PickedModel, hw: HandwritingSet):
    """(run id, run folder) of your model for this parent and set, or None."""
    if _own_run(parent, hw):
        return parent.path.parent.name, parent.path.parent
    key = (parent.checkpoint["sha256"], str(hw.path), hw.manifest.get("created_at"))
    run_id = st.session_state.get(_RUN_IDS, {}).get(key)
    if run_id is None:
        run = find_learning_run(cached.all_runs(), parent.checkpoint["sha256"], hw)
        if run is None:
            return None
        run_id = st.session_state.setdefault(_RUN_IDS, {})[key] = run.run_id  # listed once a session
    return None if run_id is None else (run_id, cached.runs_dir() / run_id)


def _learning_on() -> bool:
    return bool(st.session_state.get(LEARN_KEY, True))


def served(parent: PickedModel | None) -> tuple[PickedModel | None, Path | None]:
    """The model Draw reads strokes with: your model's newest weights when you are
    learning and want it, else `parent`; and the model.pt to follow (None for the parent)."""
    hw = _chosen_set()
    if parent is None or hw is None or not _learning_on() or st.session_state.get(PARENT_KEY):
        return parent, None
    found = _learning(parent, hw)
    if found is None:
        return parent, None
    path = found[1] / "model.pt"
    if not path.is_file():  # the first round is on its way: the canvas's answer follows the file
        return parent, path
    yours = load_picked(path, f"yours ({parent.label} + {hw.name})")
    return (yours, path) if yours is not None else (parent, None)


def learning_shown() -> bool:
    """Whether Draw has a line about your model to show (a set chosen, learning on)."""
    return _chosen_set() is not None and _learning_on()


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "not yet"
    return f"{seconds:.0f} s ago" if seconds < 90 else f"{seconds / 60:.0f} min ago"


@st.fragment(run_every=1.0)
def status_line(parent: PickedModel | None) -> None:
    """What Draw reads with, refreshed each second: your model's origin, how many of your
    digits it learned, how long ago, and whether a round is under way."""
    hw = _chosen_set()
    if parent is None or hw is None or not _learning_on():
        return
    found = _learning(parent, hw)
    run = cached.fresh_run(found[0]) if found else None
    parent_label = parent.label
    if run is None:
        st.caption(f"Learning from your corrections: the first one makes your own model from {parent_label}.")
        return
    learned = ((run.config or {}).get("handwriting") or {}).get("samples", 0)
    waiting = max(0, sum(hw.counts()) - learned)
    age = _age(seconds_since(model_updated_at(run.path)))
    using_parent = st.session_state.get(PARENT_KEY)
    text = (f"**{'Reading with the parent' if using_parent else 'Yours'}**: from {parent_label}, learned from "
            f"{learned} of your digits, updated {age}")
    if waiting and run.state in LIVE_STATES:
        text += f"; learning {waiting} more now"
    elif waiting:
        text += f"; {waiting} not learned yet (learning stopped: {run.state})"
    st.markdown(text)
    parent_id = parent.path.parent.name
    if (is_valid_run_id(parent_id) or parent_id == DEFAULT_MODEL_DIR.name) and is_valid_run_id(run.run_id):
        st.markdown(f":material/compare: [The parent and yours side by side]"
                    f"({page_link('draw', runs=[parent_id, run.run_id])}) · "
                    f"[their kernels and feature maps]({page_link('filters', run=parent_id, compare=run.run_id)})")


def learning_switch(parent: PickedModel) -> None:
    left, right = st.columns([3, 2])
    left.toggle("Learn from my corrections", value=True, key=LEARN_KEY,
                help="Each Right / it-was click teaches your own model (a run adapted from the model shown) "
                     "in a second or two; Draw then reads with it.")
    if _learning_on():
        right.toggle("Use the parent", key=PARENT_KEY, help=f"Read with {parent.label} instead of yours")


def _forget(hw: HandwritingSet) -> None:
    with st.popover("Forget my corrections"):
        st.write(f"This deletes the {sum(hw.counts())} digits of '{hw.name}' and starts a new, empty set of the "
                 "same name: Draw goes back to the parent. Your model's run stays in the store (with only the "
                 "set's name, counts and hash).")
        if st.button("Forget them", key="draw_forget", type="primary"):
            canvas, brush = hw.manifest.get("canvas"), hw.manifest.get("brush")
            root, name = hw.path.parent, hw.name
            hw.delete()
            HandwritingSet.create(name, root, canvas=tuple(canvas) if canvas else None, brush=brush)
            st.session_state[_RUN_IDS] = {}
            st.rerun()


def teach_buttons(rgba, predicted: int, parent: PickedModel | None) -> None:
    """After a prediction on Draw: right, or the digit meant (two rows of five, so every
    label fits at any width); the drawing joins the chosen set."""
    with st.expander("Teach it your handwriting", expanded=SET_KEY in st.session_state):
        hw = pick_set(key="draw_set")
        if hw is None:
            return
        if parent is not None:
            learning_switch(parent)
        answer = predicted if st.button(f"Right, it is {predicted}", key="teach_right", width="stretch") else None
        st.caption("Wrong? Click the digit you meant:")
        for row in (range(0, 5), range(5, 10)):
            for digit, col in zip(row, st.columns(5)):
                if col.button(str(digit), key=f"teach_{digit}", help=f"it was a {digit}", width="stretch"):
                    answer = digit
        st.caption(f"'{hw.name}' holds {sum(hw.counts())} samples.")
        _forget(hw)
        if answer is not None:
            hw.add(answer, rgba)
            st.session_state["draw_taught"] = st.session_state.get("draw_taught", 0) + 1
            if parent is not None and _learning_on():
                _start_round(parent, hw)
            st.toast(f"Added a {answer} to '{hw.name}'")
            st.rerun()


def _start_round(parent: PickedModel, hw: HandwritingSet) -> None:
    found = _learning(parent, hw)
    parent_dir = parent.path.parent
    if found is not None and found[0] == parent_dir.name:  # your model picked: it keeps learning from its parent
        parent_dir = Path(((cached.fresh_run(found[0]).config or {}).get("adapted_from") or {}).get("run", ""))
    run_id = learn_from_set(parent_dir, hw.path, cached.runs_dir(), found[0] if found else None)
    key = (parent.checkpoint["sha256"], str(hw.path), hw.manifest.get("created_at"))
    st.session_state.setdefault(_RUN_IDS, {})[key] = run_id
    cached.refresh_runs()
