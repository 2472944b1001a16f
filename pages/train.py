"""Train: see what the settings build and how long it will take, launch a run in
the background and watch it learn."""

import streamlit as st

from core.engine.config import ConfigError
from core.runs.launcher import launch_run
from core.runs.states import LIVE_STATES
from core.runs.store import RunStoreError
from dashboard import augment_preview, cached, train_live, train_preview
from dashboard.train_form import current_config, preset_picker, train_form

st.title("Train")

run, title = train_live.attached_run(cached.all_runs())
if run is not None:
    if run.state in LIVE_STATES:
        train_live.watch_run(run.run_id, title)
    else:
        train_live.show_run(run, title)
    st.divider()

st.subheader("New run")
preset_picker()
cluster = cached.cluster_address()
on_cluster = cluster is not None and st.toggle(f"Train on the Ray cluster at {cluster}", value=True, key="tf_cluster",
                                               help="As one task on any node with the resources it asks (a GPU for "
                                                    "cuda), into this store, which the nodes must share.")
cfg = train_form()
if cfg is not None:  # launched before the previews: nothing is timed on the way to a run
    try:
        run_id = launch_run(cfg, cached.runs_dir(), address=cluster if on_cluster else None)
    except (ConfigError, RunStoreError, OSError) as e:
        st.error(f"Could not start the run: {e}")
    else:
        st.query_params["run"] = run_id
        cached.refresh_runs()
        st.rerun()
with st.container(border=True, key="train_preview"):
    train_preview.show(current_config())
with st.container(border=True, key="augment_preview"):
    augment_preview.show()
