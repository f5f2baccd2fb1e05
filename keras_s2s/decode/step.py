"""What every search runs on: the `encode`/`step` callable types and their shared helpers."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import tensorflow as tf

from keras_s2s.constants import BOS_ID, PAD_ID

# `src_ids [batch, src_len] → states` (any `tf.nest` structure).
EncodeFn = Callable[[tf.Tensor], Any]
# `(tokens [batch], states) → (log_probs [batch, V], states)`.
StepFn = Callable[[tf.Tensor, Any], tuple[tf.Tensor, Any]]


# `(t, log_probs [rows, V]) → [rows]` int32: the token each row takes at step t.
PickFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
# `(t, rows [rows] batch indices, log_probs [rows, V]) → log_probs`: what a search may choose
# at step t (a forced prefix leaves one token above NEG_INF).
ConstrainFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]

NEG_INF = -1e9


class Hypotheses(NamedTuple):
    """What a search returns for `b` sentences: `n` hypotheses each, best first, `L` tokens
    (each ends with `</s>` unless cut at its limit, then `<pad>`)."""

    ids: tf.Tensor  # [b, n, L] int32
    scores: tf.Tensor  # [b, n] float32, length-penalised (greedy: the log-probability)
    log_probs: tf.Tensor  # [b, n] float32, the sum of the token log-probs
    token_log_probs: tf.Tensor  # [b, n, L] float32, each token's log-prob; 0 after the end
    # [b, n, L] int32, the source position (as the model read it) each token attended to
    # most; None for a model that does not attend.
    alignments: tf.Tensor | None


def bind(step: StepFn) -> StepFn:
    """`step` ready for a search loop: a step with a `bind()` method (a model's, an
    ensemble's) reads, lays out and casts its loop-invariant weights there. Call it before
    the loop, so each step does not redo that; a plain function is returned as it is."""
    return step.bind() if hasattr(step, "bind") else step


def unbound(step: StepFn) -> StepFn:
    """`step` with nothing read before the loop. The TFLite export uses it: the converter
    would fold a laid-out copy into a second constant (a tied embedding stored twice)."""
    return lambda tokens, states: step(tokens, states)


def ban_special(log_probs: tf.Tensor) -> tf.Tensor:
    """`<pad>` and `<s>` are never generated: their log-probs `[..., V]` become -1e9."""
    vocab = tf.shape(log_probs)[-1]
    banned = tf.scatter_nd([[PAD_ID], [BOS_ID]], [NEG_INF, NEG_INF], [vocab])
    return log_probs + banned


def max_target_lengths(src_ids: tf.Tensor, a: float, b: int) -> tf.Tensor:
    """Per-sentence limit `a * source_length + b` (source length without `</s>`), `[batch]`."""
    src_len = tf.reduce_sum(tf.cast(src_ids != PAD_ID, tf.float32), axis=1) - 1.0
    return tf.cast(tf.math.ceil(a * tf.maximum(src_len, 0.0)), tf.int32) + b


def step_weights(states) -> tf.Tensor | None:
    """The last step's attention weights `[b, S]` in a search state: the model's, or an
    ensemble's first attention member's; None when no model attends."""
    if isinstance(states, dict):
        return states.get("weights")
    if isinstance(states, (tuple, list)):
        for member in states:
            weights = step_weights(member)
            if weights is not None:
                return weights
    return None


def attended(states) -> tf.Tensor | None:
    """`[b]` int32: the source position (as the model read it) the last step attended to
    most; None when no model attends."""
    weights = step_weights(states)
    return None if weights is None else tf.argmax(weights, axis=-1, output_type=tf.int32)
