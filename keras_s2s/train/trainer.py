"""Compile and `model.fit` with checkpoints, backup/restore, TensorBoard and CSV logs."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import tensorflow as tf

from keras_s2s.config import TrainConfig
from keras_s2s.constants import LOG_DIR, WEIGHTS_FILE
from keras_s2s.train.losses import Perplexity, SequenceLoss, TokenAccuracy

BEST_WEIGHTS_FILE = "best.weights.h5"
BACKUP_DIR = "backup"


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """Adam or plain SGD, clipping the global gradient norm at `cfg.clip_norm` (0 = off)."""
    clip = {"global_clipnorm": cfg.clip_norm} if cfg.clip_norm > 0 else {}
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg.learning_rate, **clip)
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate, **clip)


def compile_model(model: keras.Model, cfg: TrainConfig) -> keras.Model:
    """Compiles `model` with the masked sequence loss, perplexity and token accuracy."""
    model.compile(optimizer=make_optimizer(cfg), loss=SequenceLoss(cfg.loss),
                  metrics=[Perplexity(), TokenAccuracy()])
    return model


def make_callbacks(model_dir: Path, monitor_valid: bool) -> list[keras.callbacks.Callback]:
    """Backup for resuming a killed run, best checkpoint, NaN stop, TensorBoard and CSV logs."""
    monitor = "val_perplexity" if monitor_valid else "perplexity"
    logs = model_dir / LOG_DIR
    logs.mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.BackupAndRestore(str(model_dir / BACKUP_DIR)),
        keras.callbacks.ModelCheckpoint(str(model_dir / BEST_WEIGHTS_FILE), monitor=monitor,
                                        mode="min", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(str(logs)),
        keras.callbacks.CSVLogger(str(logs / "history.csv"), append=True),
    ]


def fit(model: keras.Model, train_ds: tf.data.Dataset, valid_ds: tf.data.Dataset | None,
        cfg: TrainConfig, model_dir: str | Path, verbose: int | str = "auto") -> dict:
    """Trains a compiled model and writes the final weights to `model_dir`.

    Args:
        model: compiled by `compile_model`.
        train_ds, valid_ds: batches from `keras_s2s.data.pipeline.make_dataset`.
        cfg: epochs and optimiser settings.
        model_dir: the run directory (checkpoints, backup, logs).
        verbose: Keras verbosity (progress bar by default).

    Returns:
        The Keras history dict (per-epoch lists of loss and metrics).
    """
    model_dir = Path(model_dir)
    # Bucketed datasets have unknown cardinality; Keras warns at the end of the first epoch.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    history = model.fit(train_ds, validation_data=valid_ds, epochs=cfg.epochs,
                        callbacks=make_callbacks(model_dir, valid_ds is not None),
                        shuffle=False, verbose=verbose)  # the pipeline shuffles
    if any(tf.math.is_nan(v) for v in history.history.get("loss", [])):
        raise FloatingPointError(
            "Training stopped: the loss became NaN. Lower train.learning_rate or set "
            "train.clip_norm (e.g. --set train.clip_norm=5).")
    model.save_weights(str(model_dir / WEIGHTS_FILE))
    return history.history
