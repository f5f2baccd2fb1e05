"""Batched greedy decoding in a `tf.while_loop` over `encode`/`step` callables."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID

EncodeFn = Callable[[tf.Tensor], Any]
StepFn = Callable[[tf.Tensor, Any], tuple[tf.Tensor, Any]]


NEG_INF = -1e9


def ban_special(log_probs: tf.Tensor) -> tf.Tensor:
    """`<pad>` and `<s>` are never generated: their log-probs `[..., V]` become -1e9."""
    vocab = tf.shape(log_probs)[-1]
    banned = tf.scatter_nd([[PAD_ID], [BOS_ID]], [NEG_INF, NEG_INF], [vocab])
    return log_probs + banned


def max_target_lengths(src_ids: tf.Tensor, a: float, b: int) -> tf.Tensor:
    """Per-sentence limit `a * source_length + b` (source length without `</s>`), `[batch]`."""
    src_len = tf.reduce_sum(tf.cast(src_ids != PAD_ID, tf.float32), axis=1) - 1.0
    return tf.cast(tf.math.ceil(a * tf.maximum(src_len, 0.0)), tf.int32) + b


def greedy_search(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor,
                  max_lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Picks the most probable token at every step until `</s>` or the length limit.

    Args:
        encode: `src_ids [batch, src_len] → states` (any `tf.nest` structure).
        step: `(tokens [batch], states) → (log_probs [batch, V], states)`.
        src_ids: `[batch, src_len]` int32, right-padded with `<pad>`.
        max_lengths: `[batch]` int32, most target tokens per sentence (`</s>` included).

    Returns:
        `ids [batch, steps]` int32 (each row ends with `</s>` unless cut by its limit, then
        `<pad>`), and `log_prob [batch]` float32, the sum of the chosen tokens' log-probs.
    """
    batch = tf.shape(src_ids)[0]
    states = encode(src_ids)
    limit = tf.reduce_max(max_lengths)

    def cond(t, tokens, states, finished, score, out):
        return (t < limit) & ~tf.reduce_all(finished)

    def body(t, tokens, states, finished, score, out):
        log_probs, states = step(tokens, states)  # [batch, V]
        next_ids = tf.argmax(ban_special(log_probs), axis=-1, output_type=tf.int32)
        best = tf.gather(log_probs, next_ids, batch_dims=1)  # [batch]
        next_ids = tf.where(finished, PAD_ID, next_ids)
        score += tf.where(finished, 0.0, best)
        finished = finished | (next_ids == EOS_ID) | (t + 1 >= max_lengths)
        return t + 1, next_ids, states, finished, score, out.write(t, next_ids)

    init = (tf.constant(0), tf.fill([batch], BOS_ID), states, tf.zeros([batch], tf.bool),
            tf.zeros([batch], tf.float32), tf.TensorArray(tf.int32, size=0, dynamic_size=True))
    _, _, _, _, score, out = tf.while_loop(cond, body, init)
    ids = tf.transpose(out.stack())  # [steps, batch] -> [batch, steps]
    ids = tf.reshape(ids, [batch, -1])  # keeps [batch, 0] when no step ran
    return ids, score
