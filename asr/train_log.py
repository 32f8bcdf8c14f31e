"""Training logs: messages on stderr (kept clear of the progress bar), one CSV row per epoch in
output_dir/train_log.csv, and TensorBoard scalars in output_dir/tensorboard when the
tensorboard package is installed."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from asr.fileio import atomic_write_bytes

LOG_NAME = "train_log.csv"
TENSORBOARD_DIR = "tensorboard"
COLUMNS = ["epoch", "step", "train_loss", "valid_wer", "valid_cer", "lr", "seconds", "skipped_batches", "skipped_updates", "unreadable_audio", "padding"]


def log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


class TrainLogger:
    """Writes only on the main process (the others get a logger that does nothing)."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool, completed_epochs: int, step: int) -> None:
        self.path = out / LOG_NAME
        self.enabled = enabled
        self.writer: Any = None
        if not enabled:
            return
        self._drop_rows_after(completed_epochs)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log("tensorboard is not installed (pip install tensorboard): logging to train_log.csv only")
            else:
                # purge_step drops events a killed run logged after its last checkpoint.
                self.writer = SummaryWriter(str(out / TENSORBOARD_DIR), purge_step=step or None)

    def _drop_rows_after(self, completed_epochs: int) -> None:
        """A run killed between writing an epoch's row and its checkpoint redoes that epoch's end;
        keep the log to the epochs the checkpoint has, so no row appears twice."""
        if not self.path.exists():
            return
        rows = list(csv.reader(self.path.open(newline="")))
        kept = [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) <= completed_epochs]
        if len(kept) != len(rows) - 1:
            buffer = io.StringIO()
            csv.writer(buffer).writerows([rows[0], *kept])
            atomic_write_bytes(self.path, buffer.getvalue().encode())

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(name, value, step)

    def epoch(self, row: dict[str, Any]) -> None:
        """Append one epoch's row to the CSV (header first in a new file) and to TensorBoard."""
        if not self.enabled:
            return
        new = not self.path.exists()
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(COLUMNS)
            writer.writerow([row[name] for name in COLUMNS])
        numbers = {f"epoch/{k}": float(v) for k, v in row.items() if k not in ("epoch", "step")}
        self.scalars(int(row["step"]), numbers)
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
