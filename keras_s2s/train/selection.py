"""Which epoch is best, when to stop, when to lower the rate: decided from the logged history,
so a resumed run decides exactly as an uninterrupted one."""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import keras

from keras_s2s.config import TrainConfig

ScoreFn = Callable[[keras.Model], float]  # the model after an epoch → validation BLEU


class Metric(NamedTuple):
    """The logged metric that selects epochs (`train.keep_best`)."""

    name: str  # a history key: "val_bleu", "val_perplexity" or "perplexity"
    higher_is_better: bool

    @property
    def mode(self) -> str:
        return "max" if self.higher_is_better else "min"


def selection_metric(cfg: TrainConfig, has_validation: bool) -> Metric:
    """`val_bleu` (keep_best: bleu), else validation perplexity, else training perplexity."""
    if cfg.keep_best == "bleu":
        return Metric("val_bleu", True)
    return Metric("val_perplexity" if has_validation else "perplexity", False)


class ValidationBleu(keras.callbacks.Callback):
    """Adds `val_bleu` to each epoch's logs (so the progress line, TensorBoard, `history.csv`
    and the best-weights checkpoint after it see it).

    Args:
        score: the model → BLEU of its translations of the validation set; the wiring layer
            builds it (this package never imports the decoders).
    """

    def __init__(self, score: ScoreFn):
        super().__init__()
        self.score = score

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_bleu"] = float(self.score(self.model))


def _values(history: dict[int, dict[str, float]], metric: Metric) -> list[tuple[int, float]]:
    """`(epoch, value)` in epoch order, the better value the larger."""
    sign = 1.0 if metric.higher_is_better else -1.0
    return [(e, sign * row[metric.name]) for e, row in sorted(history.items())
            if metric.name in row and math.isfinite(row[metric.name])]


def best_epoch(history: dict[int, dict[str, float]], metric: Metric) -> int | None:
    """The (1-based) epoch with the best value (the first of ties); None before any."""
    values = _values(history, metric)
    return max(values, key=lambda pair: (pair[1], -pair[0]))[0] if values else None


def stop_reason(history: dict[int, dict[str, float]], metric: Metric,
                patience: int) -> str | None:
    """Why training stops early: `patience` epochs logged after the best one; else None."""
    best = best_epoch(history, metric)
    if patience <= 0 or best is None:
        return None
    since = sum(1 for epoch, _ in _values(history, metric) if epoch > best)
    if since < patience:
        return None
    return (f"early stopping: {metric.name} has not improved for {since} epoch(s) "
            f"(train.early_stopping_patience {patience}); best epoch {best}, "
            f"{metric.name} {history[best][metric.name]:.4g}")


def plateau_rate(history: dict[int, dict[str, float]], metric: Metric, cfg: TrainConfig) -> float:
    """The learning rate of the `plateau` schedule after the logged epochs: halved each time
    `plateau_patience` epochs in a row brought no new best, never below `min_learning_rate`."""
    rate, best, waited = cfg.learning_rate, -math.inf, 0
    for _, value in _values(history, metric):
        if value > best:
            best, waited = value, 0
            continue
        waited += 1
        if waited >= cfg.plateau_patience:
            rate, waited = max(rate * 0.5, cfg.min_learning_rate), 0
    return rate
