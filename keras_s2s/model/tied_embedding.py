"""A target embedding shared with the output projection (Press & Wolf 2017; Inan et al. 2017)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_s2s")
class TiedEmbedding(keras.layers.Layer):
    """One `[V, E]` matrix that embeds target tokens and scores the decoder's outputs.

    Called on ids it looks them up; called with `project=True` on decoder outputs `[…, H]`
    it returns logits `x W_p Eᵀ + b` `[…, V]`, where `W_p` `[H, E]` exists only when
    `H != E`. The one layer is used at both ends of the decoder, so the matrix is one
    variable.

    Args:
        vocab_size: V.
        embedding_dim: E.
        input_dim: H, the size of the vectors to project (None: E).
        embeddings_initializer: of the shared matrix.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, input_dim: int | None = None,
                 embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.input_dim = input_dim or embedding_dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, inputs_shape=None):
        self.embeddings = self.add_weight(shape=(self.vocab_size, self.embedding_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings")
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.kernel = None
        if self.input_dim != self.embedding_dim:
            self.kernel = self.add_weight(shape=(self.input_dim, self.embedding_dim),
                                          initializer="glorot_uniform", name="kernel")

    def call(self, inputs, project: bool = False):
        if not project:
            return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)
        return self.projector()(inputs)

    def projector(self):
        """`[…, H] → […, V]` logits (in the compute dtype) with `Eᵀ` laid out `[E, V]` and
        every weight cast to the compute dtype here: call it once before a decoding loop
        and the loop's steps neither transpose nor cast the largest matrix."""
        dtype = self.compute_dtype
        kernel = None if self.kernel is None else ops.cast(self.kernel, dtype)  # [H, E]
        matrix = ops.transpose(ops.cast(self.embeddings, dtype))  # [E, V]
        bias = ops.cast(self.bias, dtype)  # [V]

        def project(inputs):
            x = ops.cast(inputs, dtype)
            x = x if kernel is None else ops.matmul(x, kernel)
            return ops.matmul(x, matrix) + bias
        return project

    def compute_output_spec(self, inputs, project: bool = False):
        shape = ((*inputs.shape[:-1], self.vocab_size) if project
                 else (*inputs.shape, self.embedding_dim))
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim, "input_dim": self.input_dim,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer)}
