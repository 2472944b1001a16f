"""The Train page's form: every engine option, filled from a preset.

Widgets hold their values in session_state under `tf_<field>`, so picking a
preset (outside the form) rewrites them. The form checks nothing itself: the
engine's `validate()` is the one judge, and its ConfigError is shown naming
the field.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from core import config as C
from core.data import resolve_data_dir

PRESET_KEY = "tf_preset"
NO_PRESET = "(defaults)"
FORM_FIELDS = (
    "model", "activation", "pooling", "dropout", "batchnorm", "widths", "kernel_size", "padding", "hidden",
    "optimizer", "lr", "momentum", "nesterov", "weight_decay", "scheduler", "step_size", "gamma", "epochs",
    "batch_size", "loss", "label_smoothing", "ema", "augment", "val_size", "train_limit", "tta", "seed",
    "device", "name", "data_dir",
)


def _key(field: str) -> str:
    return f"tf_{field}"


def _widget_value(field: str, value):
    if field == "widths":
        return "" if not value else ",".join(str(w) for w in value)
    default = _DEFAULTS.get(field)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # a number_input keeps the type it started with
    return value


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(C.TrainConfig)}


def _values_for(preset: str | None) -> dict:
    return {**_DEFAULTS, **C.PRESETS.get(preset or "", {})}


def _fill(preset: str | None) -> None:
    for field, value in _values_for(preset).items():
        if field in FORM_FIELDS:
            st.session_state[_key(field)] = _widget_value(field, value)


def _on_preset() -> None:
    choice = st.session_state[PRESET_KEY]
    _fill(None if choice == NO_PRESET else choice)


def preset_picker() -> None:
    """Above the form: choosing a preset refills every field."""
    if _key("model") not in st.session_state:
        _fill(None)
    st.selectbox("Preset", [NO_PRESET, *C.PRESETS], key=PRESET_KEY, on_change=_on_preset,
                 help="Fills the form with a named recipe; change any field afterwards.")


def _parse_widths(text: str) -> tuple[int, ...] | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return tuple(int(w) for w in text.replace(" ", "").split(",") if w)
    except ValueError:
        raise C.ConfigError("widths", f"give comma-separated whole numbers, e.g. 32,64 (got {text!r})") from None


def _model_fields() -> None:
    st.selectbox("Model family", C.MODELS, key=_key("model"),
                 help="lenet1989: the 1989 paper's fixed net; cnn: configurable; mlp: 784-128-64-10 baseline")
    st.selectbox("Activation", C.ACTIVATIONS, key=_key("activation"))
    st.selectbox("Pooling", C.POOLINGS, key=_key("pooling"), help="none = stride-2 convolution")
    st.number_input("Dropout", step=0.05, key=_key("dropout"), help="0 <= p < 1")
    st.checkbox("Batch norm", key=_key("batchnorm"))
    st.text_input("Widths", key=_key("widths"), placeholder="family default (cnn 32,64; mlp 128,64)",
                  help="Comma-separated channels (cnn) or units (mlp); empty for lenet1989")
    st.number_input("Kernel size", step=1, key=_key("kernel_size"))
    st.selectbox("Padding", C.PADDINGS, key=_key("padding"))
    st.number_input("Hidden units", step=1, key=_key("hidden"), help="fully connected layer after the convolutions")


def _optimiser_fields() -> None:
    st.selectbox("Optimizer", C.OPTIMIZERS, key=_key("optimizer"))
    st.number_input("Learning rate", step=1e-4, format="%g", key=_key("lr"))
    st.number_input("Momentum", step=0.05, key=_key("momentum"), help="SGD only")
    st.checkbox("Nesterov", key=_key("nesterov"), help="SGD only")
    st.number_input("Weight decay", step=1e-4, format="%g", key=_key("weight_decay"))
    st.selectbox("LR schedule", C.SCHEDULERS, key=_key("scheduler"))
    st.number_input("Step size (epochs)", step=1, key=_key("step_size"), help="step schedule only")
    st.number_input("Gamma", step=0.05, key=_key("gamma"), help="step schedule only")
    st.selectbox("Loss", C.LOSSES, key=_key("loss"))
    st.number_input("Label smoothing", step=0.05, key=_key("label_smoothing"))
    st.number_input("EMA decay", step=0.001, format="%g", key=_key("ema"), help="0 = off, e.g. 0.999")


def _data_fields() -> None:
    st.number_input("Epochs", step=1, key=_key("epochs"))
    st.number_input("Batch size", step=1, key=_key("batch_size"))
    st.slider("Augmentation strength", 0.0, 3.0, step=0.25, key=_key("augment"),
              help="1 = +/-15 deg rotation, +/-10% shift and scale; 0 = off")
    st.number_input("Validation images", step=1000, key=_key("val_size"))
    st.number_input("Train limit", step=1000, key=_key("train_limit"), placeholder="all training images",
                    help="train on the first N images only (empty = all)")
    st.checkbox("Test-time augmentation", key=_key("tta"))
    st.number_input("Seed", step=1, key=_key("seed"))
    st.selectbox("Device", C.DEVICES, key=_key("device"))
    st.text_input("Run name", key=_key("name"), max_chars=100)
    st.text_input("MNIST folder", key=_key("data_dir"), placeholder=f"default: {resolve_data_dir(None)}",
                  help="a folder holding MNIST/raw/ (empty: $MNIST_DATA_DIR, else a per-user cache "
                       "where torchvision downloads it)")


def train_form() -> C.TrainConfig | None:
    """Draw the form; on a valid submit return the config, on an invalid one show why."""
    with st.form("train_form", enter_to_submit=False):  # only the button launches
        model_col, opt_col, data_col = st.columns(3)
        with model_col:
            st.markdown("**Model**")
            _model_fields()
        with opt_col:
            st.markdown("**Optimisation**")
            _optimiser_fields()
        with data_col:
            st.markdown("**Data and run**")
            _data_fields()
        submitted = st.form_submit_button("Start training", type="primary")
    if not submitted:
        return None
    choice = st.session_state.get(PRESET_KEY, NO_PRESET)
    preset = None if choice == NO_PRESET else choice
    # What the user changed from what the preset filled in counts as said, as on the
    # command line: a changed option that has no effect is refused, an untouched one dropped.
    filled = {field: _widget_value(field, value) for field, value in _values_for(preset).items()}
    values = {field: st.session_state[_key(field)] for field in FORM_FIELDS
              if st.session_state[_key(field)] != filled.get(field)}
    if "data_dir" in values:
        values["data_dir"] = (values["data_dir"] or "").strip() or None
    try:
        if "widths" in values:
            values["widths"] = _parse_widths(values["widths"])
        return C.from_preset(preset, **values)
    except C.ConfigError as e:
        message = str(e).split(": ", 1)[-1]
        st.error(f"**{e.field}**: {message}", icon=":material/error:")
        return None
