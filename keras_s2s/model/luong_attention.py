"""Luong et al. (2015) global attention over the top encoder layer's outputs."""

from __future__ import annotations

import keras
from keras import ops

NEG_INF = -1e9  # a masked score: exp() of it is exactly 0 in float32


@keras.saving.register_keras_serializable(package="keras_s2s")
class LuongAttention(keras.layers.Layer):
    """Global attention with Luong's three scores, and the attentional state
    `h̃ = tanh(W_c [c; h])` that feeds the output projection.

    Scores of a decoder state `h` against an encoder output `m`:
    `dot`: `hᵀ m`; `general`: `hᵀ W_a m`; `concat` (Bahdanau's additive form):
    `v_aᵀ tanh(W_q h + W_m m)`. Padding positions get exactly zero weight.

    Args:
        units: H, the size of decoder states, encoder outputs and the attentional state.
        score: "dot", "general" or "concat".

    Call arguments:
        query: `[batch, T, H]` decoder outputs (T = 1 for one search step).
        memory: `[batch, S, H]` top encoder layer outputs.
        memory_mask: `[batch, S]` bool, True on real source positions.
        keys: optional `memory_keys(memory)`, computed once for many calls.

    Returns:
        `(attentional [batch, T, H], weights [batch, T, S] float32)`.
    """

    def __init__(self, units: int, score: str = "general", **kwargs):
        super().__init__(**kwargs)
        if score not in ("dot", "general", "concat"):
            raise ValueError(f"score must be dot, general or concat; received: {score!r}.")
        self.units, self.score = units, score

    def build(self, query_shape, memory_shape=None, memory_mask_shape=None, keys_shape=None):
        h = self.units
        if self.score == "general":
            self.w_a = self.add_weight(shape=(h, h), name="w_a", initializer="glorot_uniform")
        if self.score == "concat":
            self.w_q = self.add_weight(shape=(h, h), name="w_q", initializer="glorot_uniform")
            self.w_m = self.add_weight(shape=(h, h), name="w_m", initializer="glorot_uniform")
            self.v_a = self.add_weight(shape=(h,), name="v_a", initializer="glorot_uniform")
        self.w_c = self.add_weight(shape=(2 * h, h), name="w_c", initializer="glorot_uniform")

    def memory_keys(self, memory):
        """What `concat` scores read of the memory, `W_m m` `[b, S, H]`, computed once per
        sentence (a step-by-step decoder passes it to every call); None for the others."""
        return ops.matmul(memory, self.w_m) if self.score == "concat" else None

    def scores(self, query, memory, keys=None):
        """`[b, T, H]`, `[b, S, H]` → `[b, T, S]` unnormalised scores."""
        if self.score == "dot":
            return ops.matmul(query, ops.transpose(memory, (0, 2, 1)))
        if self.score == "general":  # (h W_a) mᵀ: one [b*T, H] @ [H, H] matmul
            return ops.matmul(ops.matmul(query, self.w_a), ops.transpose(memory, (0, 2, 1)))
        keys = self.memory_keys(memory) if keys is None else keys  # [b, S, H]
        hidden = ops.tanh(ops.expand_dims(ops.matmul(query, self.w_q), 2)
                          + ops.expand_dims(keys, 1))  # [b, T, S, H]
        return ops.sum(hidden * self.v_a, axis=-1)

    def call(self, query, memory, memory_mask, keys=None):
        scores = ops.cast(self.scores(query, memory, keys), "float32")  # softmax in float32
        keep = ops.expand_dims(ops.cast(memory_mask, "bool"), 1)  # [b, 1, S]
        weights = ops.softmax(ops.where(keep, scores, NEG_INF), axis=-1)  # [b, T, S]
        context = ops.matmul(ops.cast(weights, memory.dtype), memory)  # [b, T, H]
        attentional = ops.tanh(ops.matmul(ops.concatenate([context, query], axis=-1),
                                          self.w_c))
        return attentional, weights

    def compute_output_shape(self, query_shape, memory_shape=None, memory_mask_shape=None,
                             keys_shape=None):
        return (query_shape, (*query_shape[:2], memory_shape[1]))

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "score": self.score}
