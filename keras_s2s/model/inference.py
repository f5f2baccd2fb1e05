"""Inference views of a trained seq2seq model: `encode(ids) → states`, `step(token, states)`."""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from keras_s2s.model.seq2seq import num_layers

States = tuple[tf.Tensor, ...]


def make_encode(model: keras.Model) -> Callable[[tf.Tensor], States]:
    """Returns `encode(src_ids [batch, src_len]) → (h_0, c_0, h_1, c_1, …)`, each `[batch, H]`.

    The view shares the weights of `model`; layers are found by name, never by index.
    """
    embedding = model.get_layer("encoder_embedding")
    lstms = [model.get_layer(f"encoder_lstm_{i}") for i in range(num_layers(model))]

    def encode(src_ids: tf.Tensor) -> States:
        x = embedding(src_ids)  # [batch, src_len, E], with the padding mask attached
        mask = tf.not_equal(src_ids, 0)
        states: list[tf.Tensor] = []
        for lstm in lstms:
            x, h, c = lstm(x, mask=mask, training=False)
            states += [h, c]
        return tuple(states)
    return encode


def make_step(model: keras.Model) -> Callable[[tf.Tensor, States], tuple[tf.Tensor, States]]:
    """Returns `step(tokens [batch], states) → (log_probs [batch, V] float32, states)`.

    Runs each `decoder_lstm_{i}` layer's cell once, so a search loop pays for one step only.
    """
    embedding = model.get_layer("decoder_embedding")
    cells = [model.get_layer(f"decoder_lstm_{i}").cell for i in range(num_layers(model))]
    projection = model.get_layer("output_projection")

    def step(tokens: tf.Tensor, states: States) -> tuple[tf.Tensor, States]:
        y = embedding(tokens)  # [batch, E]
        new_states: list[tf.Tensor] = []
        for i, cell in enumerate(cells):
            y, (h, c) = cell(y, [states[2 * i], states[2 * i + 1]], training=False)
            new_states += [h, c]
        logits = tf.cast(projection(y), tf.float32)  # [batch, V]
        return tf.nn.log_softmax(logits, axis=-1), tuple(new_states)
    return step
