"""`model.fit` epoch by epoch: exact resume after a kill, best checkpoint, TensorBoard and CSV."""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from keras_s2s.config import TrainConfig
from keras_s2s.constants import BEST_FILE, LOG_DIR, WEIGHTS_FILE
from keras_s2s.train.callbacks import (
    CtrlC,
    EpochTime,
    Position,
    StepCheckpoint,
    StopAtEpochEnd,
    load_position,
    seed_variables,
)
from keras_s2s.train.epoch_weights import (
    EpochWeights,
    average_weights,
    select_epochs,
    validation_history,
)
from keras_s2s.train.losses import Perplexity, SequenceLoss, TokenAccuracy
from keras_s2s.train.optimizers import make_optimizer
from keras_s2s.train.schedules import learning_rate, set_rate
from keras_s2s.train.selection import (
    Metric,
    ScoreFn,
    ValidationBleu,
    best_epoch,
    plateau_rate,
    selection_metric,
    stop_reason,
)

BEST_WEIGHTS_FILE = "best.weights.h5"
LAST_WEIGHTS_FILE = "last.weights.h5"  # the last epoch's own weights when averaging
EpochData = Callable[[int], tf.data.Dataset]


def compile_model(model: keras.Model, cfg: TrainConfig,
                  steps_per_epoch: int | None = None) -> keras.Model:
    """Compiles `model` with the masked sequence loss, perplexity and token accuracy.

    Call it inside the strategy's scope, right after building the model.
    """
    optimizer = make_optimizer(cfg.optimizer, learning_rate(cfg, steps_per_epoch), cfg.clip_norm)
    loss = SequenceLoss(cfg.loss, cfg.label_smoothing)
    model.compile(optimizer=optimizer, loss=loss, metrics=[Perplexity(shared_with=loss),
                  TokenAccuracy()], jit_compile=cfg.jit_compile)
    return model


def _best_checkpoint(model_dir: Path, metric: Metric) -> keras.callbacks.ModelCheckpoint:
    """Keeps the weights with the best `metric`, remembering the best across restarts."""
    best_file = model_dir / BEST_FILE
    best = json.loads(best_file.read_text())["value"] if best_file.is_file() else None
    return keras.callbacks.ModelCheckpoint(
        str(model_dir / BEST_WEIGHTS_FILE), monitor=metric.name, mode=metric.mode,
        save_best_only=True, save_weights_only=True, initial_value_threshold=best)


def restore(model: keras.Model, model_dir: Path) -> Position:
    """Loads the last step checkpoint, if any (weights, optimizer state, random seeds)."""
    found = load_position(model_dir)
    if found is None:
        return Position(0, 0)
    with model.distribute_strategy.scope():  # optimizer slots are created under the strategy
        model.optimizer.build(model.trainable_variables)
        _load_all(model, found.weights)
        variables = seed_variables(model)
        if found.seeds is not None and len(found.seeds) == len(variables):
            for variable, value in zip(variables, found.seeds):
                variable.assign(value)
    return found.position


def _load_all(model: keras.Model, weights: Path) -> None:
    """Loads a checkpoint into every variable, or raises. Keras only warns, and leaves the
    optimizer fresh (step 0, no moments), when a file's variables do not match in number, so
    a run would restart its schedule and warm-up silently."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(str(weights))
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    if skipped:
        raise ValueError(
            f"The checkpoint {weights} does not fit this run's model and optimizer: "
            f"{skipped[0].strip()} It was written by another version of keras_s2s or "
            "another setup. Train into a new --model-dir, or delete "
            f"{weights.parent} to restart this run from its first step.")


Callbacks = tuple[StepCheckpoint, keras.callbacks.ModelCheckpoint, list]


def _callbacks(model_dir: Path, cfg: TrainConfig, metric: Metric,
               score: ScoreFn | None) -> Callbacks:
    """The step checkpoint, the best-weights checkpoint, and every callback of an epoch in
    order: validation BLEU first, so all the others see it in the epoch's logs (and its time
    is part of `epoch_seconds`)."""
    checkpoint = StepCheckpoint(model_dir, cfg.checkpoint_every)
    best = _best_checkpoint(model_dir, metric)
    callbacks = [ValidationBleu(score)] if score is not None else []
    callbacks += [EpochTime(), checkpoint, best, EpochWeights(model_dir, cfg.keep_epoch_weights),
                  StopAtEpochEnd(), keras.callbacks.TensorBoard(str(model_dir / LOG_DIR)),
                  keras.callbacks.CSVLogger(str(model_dir / LOG_DIR / "history.csv"),
                                            append=True)]
    return checkpoint, best, callbacks


def _before_epoch(model: keras.Model, model_dir: Path, cfg: TrainConfig,
                  metric: Metric) -> str | None:
    """From the logged history: why to stop now (early stopping), or None; and for the
    `plateau` schedule, the learning rate of the coming epoch."""
    logged = validation_history(model_dir)
    if cfg.schedule == "plateau":
        set_rate(model.optimizer, plateau_rate(logged, metric, cfg))
    return stop_reason(logged, metric, cfg.early_stopping_patience)


def _record_best(model_dir: Path, best: keras.callbacks.ModelCheckpoint, metric: Metric,
                 stopped: str | None) -> None:
    """`best.json`: the best value and epoch of the selection metric, and why training
    stopped early (if it did)."""
    if best.best is None or not math.isfinite(best.best):
        return
    record = {"value": float(best.best), "metric": metric.name,
              "epoch": best_epoch(validation_history(model_dir), metric)}
    if stopped:
        record["stopped"] = stopped
    (model_dir / BEST_FILE).write_text(json.dumps(record))


def fit(model: keras.Model, epoch_data: EpochData, valid_ds: tf.data.Dataset | None,
        cfg: TrainConfig, model_dir: str | Path, steps_per_epoch: int | None = None,
        verbose: int | str = "auto", score: ScoreFn | None = None) -> dict:
    """Trains a compiled model, one `model.fit` call per epoch, resuming where a run stopped.

    Every epoch gets its own deterministic dataset (`epoch_data(epoch)`), so a resumed run
    skips exactly the batches it had done and ends with the same weights as an
    uninterrupted one.

    Args:
        model: compiled by `compile_model` (inside the strategy scope).
        epoch_data: `epoch → batches of that epoch`.
        valid_ds: validation batches, or None.
        cfg: epochs (a fraction trains part of the last one), checkpoint interval.
        model_dir: the run directory (checkpoints, best weights, logs).
        steps_per_epoch: batches per epoch; needed when `cfg.epochs` has a fraction.
        verbose: Keras verbosity (progress bar by default).
        score: the model → validation BLEU (`train.validate_bleu`), logged as `val_bleu`.

    Returns:
        The history of this call: per-epoch lists of loss and metrics.
    """
    model_dir = Path(model_dir)
    (model_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
    position = restore(model, model_dir)
    # Every epoch, the partial last one too, ends with a checkpoint at (next epoch, step 0).
    if position.epoch >= math.ceil(cfg.epochs) and (model_dir / WEIGHTS_FILE).is_file():
        print(f"The run in {model_dir} is complete: {cfg.epochs:g} epochs trained, nothing to "
              "do. Pass a larger --epochs to train it further.", file=sys.stderr)
        return {}
    if position != Position(0, 0):
        print(f"resuming from the checkpoint in {model_dir}: epoch {position.epoch + 1}, "
              f"after step {position.step} of it", file=sys.stderr)
    metric = selection_metric(cfg, valid_ds is not None)
    checkpoint, best, callbacks = _callbacks(model_dir, cfg, metric, score)
    ctrl_c = CtrlC()  # last: a due step checkpoint is written before the interrupt
    # Bucketed datasets have unknown cardinality; Keras warns at the end of each epoch.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    history: dict[str, list] = {}
    stopped = None
    for epoch in range(position.epoch, math.ceil(cfg.epochs)):
        stopped = _before_epoch(model, model_dir, cfg, metric)
        if stopped:
            print(f"stopped before epoch {epoch + 1}: {stopped}", file=sys.stderr)
            break
        batches = epoch_data(epoch)
        if cfg.epochs - epoch < 1:  # the paper's 7.5 epochs: half of the last one
            if not steps_per_epoch:
                raise ValueError("A fractional train.epochs needs steps_per_epoch.")
            batches = batches.take(round((cfg.epochs - epoch) * steps_per_epoch))
        done = position.step if epoch == position.epoch else 0
        checkpoint.position = Position(epoch, done)
        with ctrl_c.installed():
            logs = model.fit(batches.skip(done), validation_data=valid_ds,
                             epochs=math.ceil(cfg.epochs), initial_epoch=epoch, shuffle=False,
                             callbacks=[*callbacks, ctrl_c], verbose=verbose).history
        if checkpoint.nan_position is not None:
            raise FloatingPointError(
                f"Training stopped: the loss became NaN at epoch {epoch + 1}, step "
                f"{checkpoint.nan_position.step}. The last good checkpoint is kept; lower "
                "train.learning_rate or set train.clip_norm (e.g. --set train.clip_norm=5).")
        for key, values in logs.items():
            history.setdefault(key, []).extend(values)
        _record_best(model_dir, best, metric, None)
    if stopped:
        _record_best(model_dir, best, metric, stopped)
    _save_final(model, cfg, model_dir)
    return history


def _save_final(model: keras.Model, cfg: TrainConfig, model_dir: Path) -> None:
    """`model.weights.h5`: the last weights, or with `train.average_last` the mean of the
    last epochs' (the last epoch's own go to `last.weights.h5`)."""
    if cfg.average_last > 0:
        model.save_weights(str(model_dir / LAST_WEIGHTS_FILE))
        files = select_epochs(model_dir, last=cfg.average_last)
        average_weights(model, files)
        print(f"final weights: the mean of epochs {', '.join(f.name for f in files)}",
              file=sys.stderr)
    model.save_weights(str(model_dir / WEIGHTS_FILE))
