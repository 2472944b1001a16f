"""The Train page's form: every engine option, filled from a preset; the common
choices in view, the rest under "Advanced".

Widgets hold their values in session_state under `tf_<field>`, so picking a
preset rewrites them. They are plain widgets, not an `st.form`: every change
reruns the page, so what depends on the settings (the augmentation preview)
follows them live, and only the button launches. The form checks nothing
itself: the engine's `validate()` is the one judge, and its ConfigError is
shown naming the field. `current_config()` is what Start would launch, so the
page can show it before anything runs.
"""

from __future__ import annotations

import streamlit as st

from core.engine.config import PRESETS, TrainConfig, from_preset
from core.engine.data import resolve_data_dir
from core.engine.options import OPTION, OPTIONS, ConfigError, Option, parse_widths

PRESET_KEY = "tf_preset"
NO_PRESET = "(defaults)"
FORM_FIELDS = tuple(OPTION)


def _key(field: str) -> str:
    return f"tf_{field}"


def _widget_value(field: str, value):
    kind = OPTION[field].kind
    if kind is tuple:
        return "" if not value else ",".join(str(w) for w in value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # a number_input keeps the type it started with
    return value


def _values_for(preset: str | None) -> dict:
    return {**{o.name: o.default for o in OPTIONS}, **PRESETS.get(preset or "", {})}


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
    st.selectbox("Preset", [NO_PRESET, *PRESETS], key=PRESET_KEY, on_change=_on_preset,
                 help="Fills the form with a named recipe; change any field afterwards.")


def _help(option: Option) -> str | None:
    parts = [option.help] + ([f"Only when {option.applies_when}."] if option.applies_when else [])
    return " ".join(p for p in parts if p) or None


def _field(option: Option) -> None:
    """The widget of one option, chosen by its type."""
    key, label, help_text = _key(option.name), option.label, _help(option)
    if option.choices is not None:
        st.selectbox(label, option.choices, key=key, help=help_text)
    elif option.kind is bool:
        st.checkbox(label, key=key, help=help_text)
    elif option.kind is tuple:
        st.text_input(label, key=key, placeholder="the family's default", help=help_text)
    elif option.kind is str:
        placeholder = f"default: {resolve_data_dir(None)}" if option.name == "data_dir" else None
        st.text_input(label, key=key, max_chars=100 if option.name == "name" else None, placeholder=placeholder,
                      help=help_text)
    else:
        st.number_input(label, step=option.step or 1, format="%g" if option.kind is float else "%d", key=key,
                        placeholder="all" if option.optional else None, help=help_text)


def current_value(field: str):
    """A field's value as the form shows it now (before any launch)."""
    return st.session_state.get(_key(field), OPTION[field].default)


def _chosen_preset() -> str | None:
    choice = st.session_state.get(PRESET_KEY, NO_PRESET)
    return None if choice == NO_PRESET else choice


def current_config() -> TrainConfig | ConfigError:
    """The config the form describes now, or why it is not valid: what Start would launch."""
    preset = _chosen_preset()
    # What the user changed from what the preset filled in counts as said, as on the
    # command line: a changed option that has no effect is refused, an untouched one dropped.
    filled = {field: _widget_value(field, value) for field, value in _values_for(preset).items()}
    shown = {field: st.session_state.get(_key(field), filled[field]) for field in FORM_FIELDS}
    values = {field: value for field, value in shown.items() if value != filled[field]}
    if "data_dir" in values:
        values["data_dir"] = (values["data_dir"] or "").strip() or None
    try:
        if "widths" in values:
            try:
                values["widths"] = parse_widths(values["widths"] or "") or None
            except ValueError as e:
                raise ConfigError("widths", str(e)) from None
        return from_preset(preset, **values)
    except ConfigError as e:
        return e


def config_error_text(error: ConfigError) -> str:
    """'**field**: what is wrong', for st.error and the preview."""
    return f"**{error.field}**: {str(error).split(': ', 1)[-1]}"


# The choices a first run is about, always in view, three columns of three; the
# rest waits under "Advanced", by the option's group.
IN_VIEW = {"Model": ("model", "activation", "pooling"),
           "Regularisation": ("dropout", "batchnorm", "augment"),
           "Optimisation": ("optimizer", "lr", "epochs")}
ADVANCED = {"Model": ("model",), "Optimisation": ("optimisation",), "Data and run": ("data", "run")}


def _common_fields() -> None:
    for column, (title, fields) in zip(st.columns(3), IN_VIEW.items()):
        with column:
            st.markdown(f"**{title}**")
            for field in fields:
                _field(OPTION[field])


def _advanced_fields() -> None:
    in_view = {field for fields in IN_VIEW.values() for field in fields}
    for column, (title, groups) in zip(st.columns(3), ADVANCED.items()):
        with column:
            st.markdown(f"**{title}**")
            for option in OPTIONS:
                if option.group in groups and option.name not in in_view:
                    _field(option)


def train_form() -> TrainConfig | None:
    """Draw the form; on a valid submit return the config, on an invalid one show why."""
    with st.container(border=True, key="train_form"):
        _common_fields()
        with st.expander("Advanced", icon=":material/tune:"):
            _advanced_fields()
        submitted = st.button("Start training", type="primary", key="tf_start")
    if not submitted:
        return None
    cfg = current_config()
    if isinstance(cfg, ConfigError):
        st.error(config_error_text(cfg), icon=":material/error:")
        return None
    return cfg
