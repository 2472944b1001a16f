"""The Streamlit app: entry script, shared widgets, figures, launching and watching runs."""
