"""Step checkpoints for resuming a killed run exactly where it stopped, NaN detection, and
Ctrl-C at batch boundaries."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator, NamedTuple

import keras

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"


class Position(NamedTuple):
    """Where training stands: `step` batches of epoch `epoch` (0-based) are done."""

    epoch: int
    step: int


class Checkpoint(NamedTuple):
    """The last complete checkpoint of a run."""

    position: Position
    weights: Path
    seeds: list | None  # the random-seed states (`seed_states`); None in older checkpoints


def load_position(model_dir: str | Path) -> Checkpoint | None:
    """The last complete checkpoint of a run, or None."""
    state = Path(model_dir) / CHECKPOINT_DIR / STATE_FILE
    if not state.is_file():
        return None
    saved = json.loads(state.read_text(encoding="utf-8"))
    return Checkpoint(Position(saved["epoch"], saved["step"]), state.parent / saved["weights"],
                      saved.get("seeds"))


def seed_variables(model: keras.Model) -> list:
    """The model's random-seed states (its dropout layers' `SeedGenerator`s), in a fixed
    order: the variables of `model.variables` that are not weights. `save_weights` leaves
    them out, and without them a resumed run would draw other dropout masks than an
    uninterrupted one."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def seed_states(model: keras.Model) -> list:
    """The values of `seed_variables`, JSON-ready."""
    return [keras.ops.convert_to_numpy(v.value).tolist() for v in seed_variables(model)]


class StepCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state every `every` steps and at each epoch's end.

    A new weights file is written first, then `state.json` is replaced atomically to point
    at it, so a run killed at any instant (even `kill -9`) leaves a complete checkpoint.
    It also stops training on a NaN loss (`nan_position` says where) without saving.

    Args:
        model_dir: the run directory (checkpoints go to `model_dir/checkpoints`).
        every: steps between checkpoints.
    """

    def __init__(self, model_dir: str | Path, every: int):
        super().__init__()
        self.directory = Path(model_dir) / CHECKPOINT_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.every = every
        self.position = Position(0, 0)
        self.nan_position: Position | None = None

    def on_train_batch_end(self, batch, logs=None):
        self.position = Position(self.position.epoch, self.position.step + 1)
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nan_position = self.position
            self.model.stop_training = True
            return
        if self.position.step % self.every == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_position is None:
            self.position = Position(epoch + 1, 0)
            self.save()

    def save(self) -> None:
        epoch, step = self.position
        name = f"epoch{epoch:03d}-step{step:07d}.weights.h5"
        self.model.save_weights(str(self.directory / name))
        tmp = self.directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({"epoch": epoch, "step": step, "weights": name,
                                   "seeds": seed_states(self.model)}), encoding="utf-8")
        os.replace(tmp, self.directory / STATE_FILE)  # atomic: the old state stays valid until now
        for old in self.directory.glob("*.weights.h5"):
            if old.name != name:
                old.unlink()


class EpochTime(keras.callbacks.Callback):
    """Puts the epoch's wall time in seconds (training, validation and validation BLEU, as
    far as this process ran them) into its logs as `epoch_seconds`, for `history.csv`."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = round(time.monotonic() - self.start, 1)


class StopAtEpochEnd(keras.callbacks.Callback):
    """Ends `fit` after one epoch, so each epoch can get its own (resumable) dataset."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C during `fit` takes effect at the next batch end, as a `KeyboardInterrupt`
    raised in Python on the main thread.

    Python's default handler raises the interrupt wherever the main thread happens to be,
    which can be inside TensorFlow's input pipeline, where it may be swallowed (the run then
    trains on) or leave threads that hold up the exit. Here the signal only sets a flag.
    """

    def __init__(self):
        super().__init__()
        self.requested = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The SIGINT handler for the duration of the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._request)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _request(self, signum, frame):
        self.requested = True

    def _check(self, *_, **__):
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = _check
