"""A forced target prefix (interactive translation, terminology): the first tokens of each
output are given, and every search continues after them with their log-probs counted."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import PAD_ID
from keras_s2s.decode.step import NEG_INF, ConstrainFn


def prefix_constraint(prefix_ids: tf.Tensor, lengths: tf.Tensor) -> ConstrainFn:
    """The `constrain` hook that forces `prefix_ids`.

    Args:
        prefix_ids: `[b, P]` int32 target ids per sentence, right-padded (P may be 0).
        lengths: `[b]` int32 real prefix tokens per sentence (0 = no prefix).

    Returns:
        `(t, rows [r], log_probs [r, V]) → log_probs`: for each row whose sentence still has
        prefix tokens at step `t`, every token but the forced one drops to NEG_INF; the
        forced token keeps the model's own log-prob, so scores count it.
    """
    padded = tf.pad(prefix_ids, [[0, 0], [0, 1]], constant_values=PAD_ID)  # width ≥ 1

    def constrain(t: tf.Tensor, rows: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
        forcing = t < tf.gather(lengths, rows)  # [r]
        column = tf.minimum(t, tf.shape(padded)[1] - 1)
        forced = tf.gather(tf.gather(padded, rows), column, axis=1)  # [r]
        others = tf.one_hot(forced, tf.shape(log_probs)[-1], on_value=0.0, off_value=NEG_INF)
        return tf.where(forcing[:, None], log_probs + others, log_probs)
    return constrain


def with_prefix_room(max_lengths: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """`[b]` length limits that leave room for the prefix and at least one token after."""
    return tf.maximum(max_lengths, lengths + 1)
