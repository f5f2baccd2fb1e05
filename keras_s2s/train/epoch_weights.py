"""The weights after each epoch, kept for checkpoint averaging (`keras-s2s average`)."""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from keras_s2s.constants import LOG_DIR

EPOCHS_DIR = "epochs"
HISTORY_FILE = "history.csv"
NOT_LOGGED = "NA"  # what keras.callbacks.CSVLogger writes for a metric missing from an epoch
_NAME = re.compile(r"epoch(\d+)\.weights\.h5$")


def epoch_files(model_dir: str | Path) -> dict[int, Path]:
    """`{epoch (1-based): weights file}` of the snapshots a run kept."""
    folder = Path(model_dir) / EPOCHS_DIR
    found = (_NAME.search(p.name) for p in folder.glob("epoch*.weights.h5"))
    return {int(m.group(1)): folder / m.group(0) for m in found if m}


class EpochWeights(keras.callbacks.Callback):
    """Saves the weights after each epoch as `epochs/epoch{N:03d}.weights.h5` (N 1-based),
    keeping the last `keep` (written to a temporary name, then renamed: a kill never leaves
    half a file).

    Args:
        model_dir: the run directory.
        keep: how many snapshots to keep; 0 keeps none.
    """

    def __init__(self, model_dir: str | Path, keep: int):
        super().__init__()
        self.model_dir, self.keep = Path(model_dir), keep

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if self.keep <= 0 or (loss is not None and not math.isfinite(float(loss))):
            return
        folder = self.model_dir / EPOCHS_DIR
        folder.mkdir(exist_ok=True)
        target = folder / f"epoch{epoch + 1:03d}.weights.h5"
        tmp = folder / f".{target.name}"  # Keras wants the .weights.h5 ending
        self.model.save_weights(str(tmp))
        os.replace(tmp, target)
        kept = epoch_files(self.model_dir)
        for old in sorted(kept)[:-self.keep]:
            kept[old].unlink()


def validation_history(model_dir: str | Path) -> dict[int, dict[str, float]]:
    """`{epoch (1-based): logged metrics}` from the run's `history.csv` (the last row of an
    epoch wins, as after a resumed epoch). Keras writes "NA" for a metric an epoch did not
    log (every `val_` one of a run without validation data); those are left out."""
    path = Path(model_dir) / LOG_DIR / HISTORY_FILE
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as f:
        return {int(row["epoch"]) + 1: {k: float(v) for k, v in row.items()
                                        if k != "epoch" and v not in ("", NOT_LOGGED)}
                for row in csv.DictReader(f)}


def select_epochs(model_dir: str | Path, last: int | None = None, best: int | None = None,
                  metric: str = "val_perplexity", lower_is_better: bool = True) -> list[Path]:
    """The kept snapshots to average: the `last` N epochs, or the `best` N by `metric`.

    Raises:
        ValueError: fewer snapshots kept than asked for, or no logged `metric` for them.
    """
    files = epoch_files(model_dir)
    wanted = last or best or 0
    if len(files) < wanted or wanted < 1:
        raise ValueError(f"{model_dir} keeps the weights of {len(files)} epoch(s) in "
                         f"{EPOCHS_DIR}/; asked to average {wanted}. Train with "
                         "train.keep_epoch_weights >= N (the last N epochs are kept).")
    if last:
        return [files[e] for e in sorted(files)[-last:]]
    logged = validation_history(model_dir)
    scored = [(logged[e][metric], e) for e in files if metric in logged.get(e, {})]
    if len(scored) < best:
        raise ValueError(f"Only {len(scored)} kept epoch(s) of {model_dir} have a logged "
                         f"{metric}; pass --last N instead.")
    ranked = sorted(scored, reverse=not lower_is_better)[:best]
    return [files[e] for _, e in sorted(ranked, key=lambda pair: pair[1])]


def average_weights(model: keras.Model, files: Sequence[Path]) -> None:
    """Sets `model`'s weights to the element-wise mean of the weight files' (same model);
    a non-float variable (a dropout seed) keeps the last file's value."""
    if not files:
        raise ValueError("Averaging needs at least one weights file; received none.")
    total: list[np.ndarray] | None = None
    for path in files:
        model.load_weights(str(path))
        weights = model.get_weights()
        as_float = [np.asarray(w, np.float64) for w in weights]
        total = as_float if total is None else [t + w for t, w in zip(total, as_float)]
    model.set_weights([(t / len(files)).astype(w.dtype) if np.issubdtype(w.dtype, np.floating)
                       else w for t, w in zip(total, weights)])
