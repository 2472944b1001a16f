"""The Runs page's per-run actions: rename, delete (confirmed) and model download
(model.pt as is; ONNX and state_dict built on demand by core.runs.model_export)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from core.engine.config import ConfigError
from core.engine.data import DataError
from core.runs.model_export import ExportError, export_onnx, export_state_dict
from core.runs.store import RunInfo, RunStoreError, delete_run, rename_run
from dashboard import cached

FLASH_KEY = "runs_flash"


def flash() -> None:
    """Show (once) the message an action left before its rerun."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message)


def _done(message: str) -> None:
    st.session_state[FLASH_KEY] = message
    cached.refresh_runs()
    st.rerun()


def rename(run: RunInfo) -> None:
    new_name = st.text_input("New name", value=run.config.get("name", ""), key=f"rename-{run.run_id}",
                             max_chars=100)
    if st.button("Rename", key=f"rename-btn-{run.run_id}"):
        try:
            rename_run(cached.runs_dir(), run.run_id, new_name)
        except (ConfigError, RunStoreError, OSError, ValueError) as e:
            st.error(f"Could not rename: {e}")
        else:
            _done(f"Renamed {run.run_id} to {new_name!r}.")


def delete(run: RunInfo) -> None:
    sure = st.checkbox("Confirm: delete this run and all its files", key=f"delete-ok-{run.run_id}")
    if st.button("Delete run", key=f"delete-btn-{run.run_id}", type="primary", disabled=not sure,
                 icon=":material/delete:"):
        try:
            delete_run(cached.runs_dir(), run.run_id)  # refuses a run that is still training
        except (RunStoreError, OSError) as e:
            st.error(f"Could not delete: {e}")
        else:
            _done(f"Deleted {run.run_id}.")


def _onnx_zip(run_dir: Path) -> bytes:
    """model.onnx and model.onnx.json, zipped; refused unless onnxruntime agreed with PyTorch."""
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_onnx(run_dir, tmp)
        if not exported.check.ok:
            raise ExportError(f"the ONNX model does not match PyTorch: {exported.check.line()}")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in (exported.onnx, exported.description):
                z.write(path, path.name)
        return buf.getvalue()


def _state_dict_bytes(run_dir: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return export_state_dict(run_dir, tmp).read_bytes()


EXPORTS = {  # format: (label, build, file name suffix)
    "onnx": ("ONNX + JSON (.zip)", _onnx_zip, "-onnx.zip"),
    "state_dict": ("state_dict.pt", _state_dict_bytes, "-state_dict.pt"),
}


def _export_download(run: RunInfo, fmt: str) -> None:
    """A button that builds the export (seconds: ONNX is checked on the test set), then its download."""
    label, build, suffix = EXPORTS[fmt]
    try:  # keyed by model.pt's mtime, so a rewritten model.pt is exported afresh
        key = f"export-{fmt}-{run.run_id}-{(run.path / 'model.pt').stat().st_mtime_ns}"
    except OSError:
        return
    slot = st.empty()
    if key not in st.session_state and slot.button(f"Build {label}", key=f"{key}-build"):
        with st.spinner(f"Exporting {label}..."):
            try:
                st.session_state[key] = build(run.path)
                slot.empty()  # built: the download below replaces the button
            except (ExportError, DataError, OSError) as e:
                st.error(f"Could not export {fmt}: {e}")
    if key in st.session_state:
        st.download_button(f"Download {label}", data=st.session_state[key], file_name=f"{run.run_id}{suffix}",
                           mime="application/octet-stream", key=f"{key}-download", icon=":material/download:")


def download(run: RunInfo) -> None:
    path = run.path / "model.pt"
    if not path.is_file():
        st.caption("This run has no model.pt to download.")
        return
    st.download_button("Download model.pt", data=lambda: path.read_bytes(), file_name=f"{run.run_id}.pt",
                       mime="application/octet-stream", key=f"download-{run.run_id}",
                       icon=":material/download:")
    for fmt in EXPORTS:
        _export_download(run, fmt)
