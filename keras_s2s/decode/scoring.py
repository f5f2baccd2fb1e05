"""Scoring given translations: `log p(target | source)` with the searches' step function."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import BOS_ID, PAD_ID
from keras_s2s.decode.step import EncodeFn, StepFn


def score_targets(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor,
                  tgt_ids: tf.Tensor) -> tf.Tensor:
    """`log p(target | source)` with the same step function the searches use.

    Args:
        src_ids: `[b, S]` int32, right-padded.
        tgt_ids: `[b, T]` int32 target tokens ending with `</s>`, right-padded.

    Returns:
        `[b]` float32: the sum of the log-probabilities of every target token and `</s>`.
    """
    batch, length = tf.shape(tgt_ids)[0], tf.shape(tgt_ids)[1]
    inputs = tf.concat([tf.fill([batch, 1], BOS_ID), tgt_ids[:, :-1]], axis=1)  # teacher forcing

    def body(t, states, total):
        log_probs, states = step(inputs[:, t], states)  # [b, V]
        picked = tf.gather(log_probs, tgt_ids[:, t], batch_dims=1)  # [b]
        return t + 1, states, total + tf.where(tgt_ids[:, t] != PAD_ID, picked, 0.0)

    _, _, total = tf.while_loop(lambda t, *_: t < length, body,
                                (tf.constant(0), encode(src_ids), tf.zeros([batch])))
    return total
