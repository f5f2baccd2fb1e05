"""Masked sequence loss and metrics: padding (`<pad>` = 0) never counts."""

from __future__ import annotations

from typing import get_args

import keras
import tensorflow as tf
from keras import ops

from keras_s2s.config import LossKind
from keras_s2s.constants import PAD_ID


@tf.custom_gradient
def softmax_nll(logits, labels):
    """`-log softmax(logits)[label]` of each row, with the gradient `softmax − one-hot`.

    The same values as TF's fused `SparseSoftmaxCrossEntropyWithLogits`, in about half its
    time on a CPU (e.g. 12 against 23 ms forward and backward for `[500, 8004]` on one
    thread): that kernel's element-wise loops are slower than these ops' vectorised ones.

    Args:
        logits: `[N, V]` float32.
        labels: `[N]` int32 in `[0, V)`.

    Returns:
        `[N]` float32.
    """
    peak = tf.reduce_max(logits, axis=1, keepdims=True)  # [N, 1]
    exp = tf.exp(logits - peak)  # [N, V], kept for the gradient
    total = tf.reduce_sum(exp, axis=1)  # [N], >= 1
    nll = tf.math.log(total) + peak[:, 0] - tf.gather(logits, labels, axis=1, batch_dims=1)

    def grad(d_nll):  # [N]
        d_logits = exp * (d_nll / total)[:, None]
        rows = tf.stack([tf.range(tf.shape(labels)[0]), labels], axis=1)  # [N, 2]
        return tf.tensor_scatter_nd_sub(d_logits, rows, d_nll), None

    return nll, grad


def _token_nll(y_true, logits, label_smoothing: float = 0.0):
    """Per-token negative log-likelihood `[batch, len]` and the real-token mask `[batch, len]`.

    The softmax runs in float32 whatever the model's compute precision.
    """
    mask = ops.cast(ops.not_equal(y_true, PAD_ID), "float32")
    logits = ops.cast(logits, "float32")  # [batch, len, V]
    if label_smoothing <= 0:
        nll = softmax_nll(tf.reshape(logits, [-1, tf.shape(logits)[-1]]),
                          tf.reshape(tf.cast(y_true, tf.int32), [-1]))
        return tf.reshape(nll, tf.shape(y_true)) * mask, mask
    log_probs = ops.log_softmax(logits, axis=-1)
    nll = -ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(y_true, "int32"), -1),
                               axis=-1)[..., 0]
    # Mix in the cross-entropy against a uniform distribution over the vocabulary.
    nll = (1.0 - label_smoothing) * nll - label_smoothing * ops.mean(log_probs, axis=-1)
    return nll * mask, mask


def _over_replicas(count):
    """`count` summed over the replicas in sync (itself outside a replicated step)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return count
    return context.all_reduce("SUM", tf.stop_gradient(count))


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
        # The divisor is the whole batch's, over all replicas: the optimizer sums the
        # replicas' gradients, so they add up to the gradient of the one-device loss.
        if self.normalize == "token_mean":
            return ops.sum(nll) / ops.maximum(_over_replicas(ops.sum(mask)), 1.0)
        return ops.sum(nll) / _over_replicas(ops.cast(ops.shape(y_true)[0], "float32"))

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
