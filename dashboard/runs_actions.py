"""The Runs page's per-run actions: rename, delete (confirmed) and model download."""

from __future__ import annotations

import streamlit as st

from core.engine.config import ConfigError
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


def download(run: RunInfo) -> None:
    path = run.path / "model.pt"
    if not path.is_file():
        st.caption("This run has no model.pt to download.")
        return
    st.download_button("Download model.pt", data=lambda: path.read_bytes(), file_name=f"{run.run_id}.pt",
                       mime="application/octet-stream", key=f"download-{run.run_id}",
                       icon=":material/download:")
