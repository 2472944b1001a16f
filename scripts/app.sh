#!/usr/bin/env bash
# Install (first time) and start the dashboard on http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/streamlit run dashboard/server.py "$@"
