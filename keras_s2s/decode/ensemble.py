"""An ensemble of models as one `(encode, step)` pair: log-probabilities averaged per step."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from keras_s2s.decode.step import EncodeFn, StepFn, bind


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
    return encode, EnsembleStep([member_step for _, member_step in members])


class EnsembleStep:
    """`(tokens [b], states) → (log_probs [b, V], states)`: the members' log-probabilities
    averaged, their states side by side in a tuple; `bind()` binds every member (see
    `keras_s2s.decode.step.bind`)."""

    def __init__(self, steps: Sequence[StepFn]):
        self.steps = list(steps)

    def bind(self) -> StepFn:
        return EnsembleStep([bind(step) for step in self.steps])

    def __call__(self, tokens: tf.Tensor, states):
        outputs = [step(tokens, s) for step, s in zip(self.steps, states)]
        log_probs = tf.add_n([lp for lp, _ in outputs]) / float(len(self.steps))  # [b, V]
        return log_probs, tuple(s for _, s in outputs)
