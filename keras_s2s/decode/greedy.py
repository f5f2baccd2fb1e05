"""Batched greedy decoding in a `tf.while_loop` over `encode`/`step` callables; the choice
of each token is a hook, so sampling runs in the same loop."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID
from keras_s2s.decode.step import (
    ConstrainFn,
    EncodeFn,
    Hypotheses,
    PickFn,
    StepFn,
    attended,
    ban_special,
    bind,
)


def most_probable(t: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
    """The greedy choice: `[batch, V]` → `[batch]` int32 (ties: the lowest id)."""
    return tf.argmax(log_probs, axis=-1, output_type=tf.int32)


def greedy_search(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor, max_lengths: tf.Tensor,
                  buffer_len: int | None = None, pick: PickFn = most_probable,
                  constrain: ConstrainFn | None = None) -> Hypotheses:
    """Picks the most probable token (or what `pick` chooses) at every step until `</s>` or
    the length limit.

    Args:
        encode: `src_ids [batch, src_len] → states` (any `tf.nest` structure).
        step: `(tokens [batch], states) → (log_probs [batch, V], states)`.
        src_ids: `[batch, src_len]` int32, right-padded with `<pad>`.
        max_lengths: `[batch]` int32, most target tokens per sentence (`</s>` included).
        buffer_len: a fixed output length L ≥ every `max_lengths` (static shapes, e.g. for
            TFLite); None sizes the buffer by `max(max_lengths)` and trims it.
        pick: `(t, log_probs [batch, V]) → [batch]` the next tokens (`<pad>` and `<s>` are
            already banned); sampling passes its own.
        constrain: `(t, rows [batch], log_probs) → log_probs`, e.g. a forced target prefix.

    Returns:
        One hypothesis per sentence (`n = 1`; `L` = the steps taken, or `buffer_len`); its
        score is its log-probability.
    """
    batch = tf.shape(src_ids)[0]
    step = bind(step)  # the step's weights laid out once, before the loop
    states = encode(src_ids)
    limit = tf.reduce_max(max_lengths) if buffer_len is None else buffer_len

    aligned = attended(states) is not None

    def cond(t, tokens, states, finished, score, out, token_lp, align):
        return (t < limit) & ~tf.reduce_all(finished)

    def body(t, tokens, states, finished, score, out, token_lp, align):
        log_probs, states = step(tokens, states)  # [batch, V]
        if constrain is not None:
            log_probs = constrain(t, tf.range(batch), log_probs)
        next_ids = pick(t, ban_special(log_probs))
        best = tf.gather(log_probs, next_ids, batch_dims=1)  # [batch]
        next_ids = tf.where(finished, PAD_ID, next_ids)
        best = tf.where(finished, 0.0, best)
        score += best
        finished = finished | (next_ids == EOS_ID) | (t + 1 >= max_lengths)
        position = tf.one_hot(t, limit, on_value=1, off_value=0, dtype=tf.int32)  # [L]
        out += tf.expand_dims(next_ids, 1) * position
        token_lp += tf.expand_dims(best, 1) * tf.cast(position, tf.float32)
        if aligned:
            align += tf.expand_dims(attended(states), 1) * position
        return t + 1, next_ids, states, finished, score, out, token_lp, align

    empty = tf.fill([batch, limit], PAD_ID)
    init = (tf.constant(0), tf.fill([batch], BOS_ID), states, tf.zeros([batch], tf.bool),
            tf.zeros([batch], tf.float32), empty, tf.zeros([batch, limit]), empty)
    steps, _, _, _, score, out, token_lp, align = tf.while_loop(cond, body, init)
    if buffer_len is None:
        out, token_lp, align = out[:, :steps], token_lp[:, :steps], align[:, :steps]
    one = tf.expand_dims  # [b, ...] -> [b, 1, ...]: one hypothesis each
    return Hypotheses(one(out, 1), one(score, 1), one(score, 1), one(token_lp, 1),
                      one(align, 1) if aligned else None)
