"""An ensemble of models as one `(encode, step)` pair: log-probabilities averaged per step."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from keras_s2s.decode.step import EncodeFn, StepFn


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
