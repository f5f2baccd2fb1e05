"""Scoring given translations, ensembles of step functions, and n-best rescoring."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from keras_s2s.constants import BOS_ID, PAD_ID
from keras_s2s.decode.greedy import EncodeFn, StepFn


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


def ensemble(members: Sequence[tuple[EncodeFn, StepFn]]) -> tuple[EncodeFn, StepFn]:
    """One `(encode, step)` pair that averages the members' log-probabilities at each step.

    The members must share vocabularies; their states are kept side by side in a tuple.
    """
    if not members:
        raise ValueError("An ensemble needs at least one model; received none.")
    if len(members) == 1:
        return members[0]

    def encode(src_ids):
        return tuple(member_encode(src_ids) for member_encode, _ in members)

    def step(tokens, states):
        outputs = [member_step(tokens, s) for (_, member_step), s in zip(members, states)]
        log_probs = tf.add_n([lp for lp, _ in outputs]) / float(len(members))  # [b, V]
        return log_probs, tuple(s for _, s in outputs)
    return encode, step


def rescore(candidates: Sequence[Sequence[tuple[str, float]]],
            model_scores: Sequence[Sequence[float]], weight: float = 0.5
            ) -> list[list[tuple[str, float]]]:
    """Re-ranks n-best lists by `weight * external + (1 - weight) * model` score.

    The paper averaged its LSTM's log-probability with the SMT system's score evenly
    (`weight = 0.5`).

    Args:
        candidates: per sentence, `(hypothesis, external score)` pairs.
        model_scores: per sentence, the model's `log p(hypothesis | source)` of each pair.
        weight: the external score's share.

    Returns:
        Per sentence, `(hypothesis, combined score)` pairs, best first.
    """
    if len(candidates) != len(model_scores):
        raise ValueError(f"Got {len(candidates)} n-best lists but {len(model_scores)} score "
                         "lists; they must be aligned.")
    ranked = []
    for sentence, scores in zip(candidates, model_scores):
        combined = [(hyp, weight * ext + (1 - weight) * model)
                    for (hyp, ext), model in zip(sentence, scores, strict=True)]
        ranked.append(sorted(combined, key=lambda pair: -pair[1]))
    return ranked
