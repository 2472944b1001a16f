"""TensorBoard event files in the run's own folder, so `tensorboard --logdir
artifacts/runs` lists every run (sweep trials included) by its run id.

Scalars, per epoch (step = epoch): loss/* and acc/* for train, val, test and
train_eval, lr and epoch_seconds; within epochs (step = batches seen): running/
train_loss and running/train_acc; at the end the result: acc/best_val, acc/final_test
(the kept model's), acc/final_other (the other dataset's) and best_epoch. The HParams
view gets one session per run: the config's options, with its scalars as metrics.

A mirror of what the run writes anyway: a write that fails is reported once on
stderr and the run goes on without it.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from pathlib import Path

from core.engine.config import TrainConfig

EPOCH_SCALARS = {
    "loss/train": "train_loss", "loss/val": "val_loss", "loss/test": "test_loss", "loss/train_eval": "train_eval_loss",
    "acc/train": "train_acc", "acc/val": "val_acc", "acc/test": "test_acc", "acc/train_eval": "train_eval_acc",
    "lr": "lr", "epoch_seconds": "epoch_seconds",
}
# The run's result (evaluation.json's summary), once, at the last epoch's step. Named to
# sort first: the HParams table shows the first five metrics (by name) unless told more.
FINAL_SCALARS = {"acc/best_val": "best_val_acc", "acc/final_other": "other_acc", "acc/final_test": "test_acc",
                 "best_epoch": "best_epoch"}


def hparam_value(value):
    """An option as TensorBoard's HParams can hold it: lists as text, None as "none"."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value


class TensorBoardLog:
    """Fed by the run's hooks; `close(state, summary)` once the run has ended."""

    def __init__(self, run_dir: Path, cfg: TrainConfig):
        self.writer = None
        with self._guard():
            from torch.utils.tensorboard import SummaryWriter  # tensorboard only once a run trains

            self.writer = SummaryWriter(log_dir=str(run_dir))
            hparams = {key: hparam_value(value) for key, value in cfg.to_dict().items()}
            self.writer.file_writer.add_summary(_session_start(hparams))

    def on_batch(self, epoch: int, batch: int, n_batches: int, running: tuple | None) -> None:
        if self.writer is None or running is None:  # the loop measures it every 20 batches (it costs a sync)
            return
        with self._guard():
            self._scalars({"running/train_loss": running[0], "running/train_acc": running[1]},
                          step=(epoch - 1) * n_batches + batch)

    def on_epoch(self, row: dict) -> None:
        if self.writer is None:
            return
        with self._guard():
            self._scalars({tag: row.get(key) for tag, key in EPOCH_SCALARS.items()}, step=row["epoch"])
            self.writer.flush()  # once an epoch: a watching TensorBoard sees it soon, at no real cost

    def close(self, state: str, summary: dict | None = None) -> None:
        """Final metrics (evaluation.json's summary, when the run got that far), the
        session's end and the last flush: for completed, cancelled and failed runs."""
        if self.writer is None:
            return
        with self._guard():
            if summary:
                self._scalars({tag: summary.get(key) for tag, key in FINAL_SCALARS.items()},
                              step=summary.get("epochs_done") or 0)
            self.writer.file_writer.add_summary(_session_end(state))
        if self.writer is not None:
            with self._guard():
                self.writer.close()
            self.writer = None

    def _scalars(self, values: dict, step: int) -> None:
        for tag, value in values.items():
            # No validation set makes val_* NaN, a missing other dataset other_acc None: left out.
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(tag, value, step)

    @contextlib.contextmanager
    def _guard(self):
        """Never fail the run for its TensorBoard copy: say why once, then stop writing."""
        try:
            yield
        except Exception as e:
            print(f"tensorboard: {type(e).__name__}: {e} (the run goes on without its event files)",
                  file=sys.stderr, flush=True)
            writer, self.writer = self.writer, None
            with contextlib.suppress(Exception):
                if writer is not None:
                    writer.close()


def _session_start(hparams: dict):
    """The HParams session's start. No Experiment summary: TensorBoard takes the first
    one it finds as every run's columns; without it, it builds them from all runs'
    sessions (each option, typed from every run's value) and their scalars."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for key, value in hparams.items():
        if isinstance(value, bool):  # before numbers: a bool is an int
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = value
        else:
            start.hparams[key].string_value = str(value)
    plugin_data = plugin_data_pb2.HParamsPluginData(session_start_info=start)
    return _hparams_summary(metadata.SESSION_START_INFO_TAG, plugin_data)


def _session_end(state: str):
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    # TensorBoard has no "cancelled": such a session ends with an unknown status.
    status = {"completed": api_pb2.STATUS_SUCCESS, "failed": api_pb2.STATUS_FAILURE}.get(state, api_pb2.STATUS_UNKNOWN)
    end = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time())
    return _hparams_summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))


def _hparams_summary(tag: str, data):
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import metadata

    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))])
