"""Masked sequence loss and metrics: padding (`<pad>` = 0) never counts."""

from __future__ import annotations

from typing import get_args

import keras
from keras import ops

from keras_s2s.config import LossKind
from keras_s2s.constants import PAD_ID


def _token_nll(y_true, logits, label_smoothing: float = 0.0):
    """Per-token negative log-likelihood `[batch, len]` and the real-token mask `[batch, len]`.

    The softmax runs in float32 whatever the model's compute precision.
    """
    mask = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
    logits = ops.cast(logits, "float32")  # [batch, len, V]
    if label_smoothing <= 0:  # the fused softmax cross-entropy kernel, forward and backward
        return ops.sparse_categorical_crossentropy(y_true, logits, from_logits=True) * mask, mask
    log_probs = ops.log_softmax(logits, axis=-1)
    nll = -ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(y_true, "int32"), -1),
                               axis=-1)[..., 0]
    # Mix in the cross-entropy against a uniform distribution over the vocabulary.
    nll = (1.0 - label_smoothing) * nll - label_smoothing * ops.mean(log_probs, axis=-1)
    return nll * mask, mask


@keras.saving.register_keras_serializable(package="keras_s2s")
class SequenceLoss(keras.losses.Loss):
    """Cross-entropy over real target tokens.

    Args:
        normalize: "token_mean" divides the summed NLL by the number of real tokens;
            "sentence_sum" divides it by the number of sentences (the paper: the sum of
            each sentence's NLL, averaged over the batch).
        label_smoothing: share of the target mass spread uniformly over the vocabulary.

    Call arguments:
        y_true: `[batch, len]` int ids, `<pad>` where there is no token.
        y_pred: `[batch, len, vocab]` logits.
    """

    def __init__(self, normalize: str = "token_mean", label_smoothing: float = 0.0,
                 name: str = "sequence_loss", **kwargs):
        kwargs.setdefault("reduction", "sum")  # call() already returns the batch's scalar
        super().__init__(name=name, **kwargs)
        if normalize not in get_args(LossKind):
            raise ValueError(f"normalize must be one of {get_args(LossKind)}; "
                             f"received: normalize={normalize!r}.")
        self.normalize = normalize
        self.label_smoothing = label_smoothing
        self.last_nll = None  # (logits, nll, mask) of the last call

    def call(self, y_true, y_pred):
        nll, mask = _token_nll(y_true, y_pred, self.label_smoothing)
        if self.label_smoothing <= 0:  # for a `Perplexity(shared_with=self)` on the same step
            self.last_nll = (y_pred, nll, mask)
        if self.normalize == "token_mean":
            return ops.sum(nll) / ops.maximum(ops.sum(mask), 1.0)
        return ops.sum(nll) / ops.cast(ops.shape(y_true)[0], "float32")

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize,
                "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="keras_s2s")
class Perplexity(keras.metrics.Metric):
    """exp(total NLL / total real target tokens) over everything seen since the last reset.

    Args:
        shared_with: optional `SequenceLoss` compiled beside this metric. When it has just
            computed the NLL of the same logits tensor, that NLL is reused: the softmax over
            the vocabulary is the costliest op after the matmuls, and is then run once.
    """

    def __init__(self, name: str = "perplexity", shared_with: SequenceLoss | None = None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.shared_with = shared_with
        self.total_nll = self.add_variable(shape=(), initializer="zeros", name="total_nll")
        self.total_tokens = self.add_variable(shape=(), initializer="zeros", name="total_tokens")

    def update_state(self, y_true, y_pred, sample_weight=None):
        last = self.shared_with.last_nll if self.shared_with is not None else None
        if last is not None and last[0] is y_pred:  # the loss's softmax of this very step
            nll, mask = last[1], last[2]
        else:
            nll, mask = _token_nll(y_true, y_pred)
        self.total_nll.assign_add(ops.sum(nll))
        self.total_tokens.assign_add(ops.sum(mask))

    def result(self):
        return ops.exp(self.total_nll / ops.maximum(self.total_tokens, 1.0))


@keras.saving.register_keras_serializable(package="keras_s2s")
class TokenAccuracy(keras.metrics.Metric):
    """Share of real target tokens whose argmax prediction is right."""

    def __init__(self, name: str = "token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
        # Right when the true token's logit is the largest (a tie counts as right): a max
        # is a vectorised reduction, several times cheaper than argmax over the vocabulary.
        true_logit = ops.take_along_axis(y_pred, ops.expand_dims(ops.cast(y_true, "int32"), -1),
                                         axis=-1)[..., 0]
        hits = ops.cast(ops.greater_equal(true_logit, ops.max(y_pred, axis=-1)), "float32")
        self.correct.assign_add(ops.sum(hits * mask))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)
