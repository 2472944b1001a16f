"""The engine: pure PyTorch. Options and config, data, augmentation, models, the
training loop, evaluation, introspection, image preprocessing, prediction.
No processes, no files but its data; imports nothing from core.runs, Streamlit or Ray."""
