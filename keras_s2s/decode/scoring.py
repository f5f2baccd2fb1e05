"""Scoring given translations: `log p(target | source)` with the searches' step function, and
the attention each target token paid to the source on the way."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID
from keras_s2s.decode.step import EncodeFn, StepFn, bind, step_weights


def force_decode(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor, tgt_ids: tf.Tensor,
                 with_weights: bool = False) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Runs the step function over given targets (teacher forcing), as the searches do.

    Args:
        src_ids: `[b, S]` int32, right-padded.
        tgt_ids: `[b, T]` int32 target tokens ending with `</s>`, right-padded.
        with_weights: also collect each step's attention weights.

    Returns:
        `log_prob [b]` float32, the sum of the log-probabilities of every target token and
        `</s>`; and the attention weights `[b, T, S]` (None unless asked for and the model
        attends).
    """
    batch, length = tf.shape(tgt_ids)[0], tf.shape(tgt_ids)[1]
    inputs = tf.concat([tf.fill([batch, 1], BOS_ID), tgt_ids[:, :-1]], axis=1)  # teacher forcing
    step = bind(step)  # the step's weights laid out once, before the loop
    states = encode(src_ids)
    with_weights = with_weights and step_weights(states) is not None

    def body(t, states, total, weights):
        log_probs, states = step(inputs[:, t], states)  # [b, V]
        picked = tf.gather(log_probs, tgt_ids[:, t], batch_dims=1)  # [b]
        if with_weights:
            weights = weights.write(t, step_weights(states))
        return t + 1, states, total + tf.where(tgt_ids[:, t] != PAD_ID, picked, 0.0), weights

    weights = tf.TensorArray(tf.float32, size=length) if with_weights else tf.constant(0.0)
    _, _, total, weights = tf.while_loop(lambda t, *_: t < length, body,
                                         (tf.constant(0), states, tf.zeros([batch]), weights))
    return total, tf.transpose(weights.stack(), [1, 0, 2]) if with_weights else None


def score_targets(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor,
                  tgt_ids: tf.Tensor) -> tf.Tensor:
    """`log p(target | source)` `[b]` of `force_decode`."""
    return force_decode(encode, step, src_ids, tgt_ids)[0]


def _read_tokens(src_ids: tf.Tensor) -> tf.Tensor:
    """`[b, 1]` int32: the source tokens the model read, without `</s>`."""
    return tf.reduce_sum(tf.cast(src_ids != PAD_ID, tf.int32), axis=1, keepdims=True) - 1


def in_reading_order(weights: tf.Tensor, src_ids: tf.Tensor, reversed_source: bool) -> tf.Tensor:
    """Attention columns rearranged from the order the model read the source in to the user's.

    Args:
        weights: `[b, T, S]` attention over the source as the model read it.
        src_ids: `[b, S]` what the model read: `n` tokens (reversed if `reversed_source`),
            `</s>`, padding.

    Returns:
        `[b, T, S]`: columns `0 … n-1` the source tokens in reading order, `n` its `</s>`,
        then padding (zero weight).
    """
    if not reversed_source:
        return weights
    read = tf.range(tf.shape(src_ids)[1])[tf.newaxis]  # [1, S]
    return tf.gather(weights, _flip(read, _read_tokens(src_ids)), axis=2, batch_dims=1)


def _flip(positions: tf.Tensor, tokens: tf.Tensor) -> tf.Tensor:
    """Token positions `p < n` ↔ `n - 1 - p` (reversal is its own inverse); `</s>` and
    padding keep theirs."""
    return tf.where(positions < tokens, tokens - 1 - positions, positions)


def reading_positions(fed: tf.Tensor, src_ids: tf.Tensor, tgt_ids: tf.Tensor,
                      reversed_source: bool) -> tf.Tensor:
    """Source positions as the model read them → in the user's reading order.

    Args:
        fed: `[b, T]` int32, the source position each target token attended to most.
        src_ids: `[b, S]` what the model read: `n` tokens (reversed if `reversed_source`),
            `</s>`, padding.
        tgt_ids: `[b, T]` the target tokens, right-padded.

    Returns:
        `[b, T]` int32: `0 … n-1` for source tokens in reading order, `n` for the source's
        `</s>`; -1 at the target's `</s>` and padding (one entry per output token).
    """
    if reversed_source:
        fed = _flip(fed, _read_tokens(src_ids))
    return tf.where((tgt_ids != PAD_ID) & (tgt_ids != EOS_ID), fed, -1)
