"""Inference views of a trained seq2seq model: `encode(ids) → states`, `step(token, states)`."""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from keras_s2s.model.seq2seq import num_layers

States = tuple[tf.Tensor, ...]


def attention_layer(model: keras.Model):
    """The model's `attention` layer, or None for the paper's model."""
    names = {layer.name for layer in model.layers}
    return model.get_layer("attention") if "attention" in names else None


def make_encode(model: keras.Model) -> Callable[[tf.Tensor], States | dict]:
    """Returns `encode(src_ids [batch, src_len]) → (h_0, c_0, h_1, c_1, …)`, each `[batch, H]`.

    With attention it returns `{"layers": (h_0, c_0, …), "memory": [batch, src_len, H],
    "mask": [batch, src_len] bool}`: the search carries the memory in its state (every
    field batch-major, so beams tile and gather it like the LSTM states). The view shares
    the weights of `model`; layers are found by name, never by index.
    """
    embedding = model.get_layer("encoder_embedding")
    lstms = [model.get_layer(f"encoder_lstm_{i}") for i in range(num_layers(model))]
    attends = attention_layer(model) is not None

    def encode(src_ids: tf.Tensor) -> States | dict:
        x = embedding(src_ids)  # [batch, src_len, E], with the padding mask attached
        mask = tf.not_equal(src_ids, 0)
        states: list[tf.Tensor] = []
        for lstm in lstms:
            x, h, c = lstm(x, mask=mask, training=False)
            states += [h, c]
        if attends:
            return {"layers": tuple(states), "memory": x, "mask": mask}
        return tuple(states)
    return encode


def make_step(model: keras.Model) -> Callable[[tf.Tensor, States], tuple[tf.Tensor, States]]:
    """Returns `step(tokens [batch], states) → (log_probs [batch, V] float32, states)`.

    Runs each `decoder_lstm_{i}` layer's cell once, so a search loop pays for one step only;
    with attention, the top output attends over `states["memory"]` first.
    """
    embedding = model.get_layer("decoder_embedding")
    cells = [model.get_layer(f"decoder_lstm_{i}").cell for i in range(num_layers(model))]
    attention = attention_layer(model)
    projection = model.get_layer("output_projection")

    def step(tokens: tf.Tensor, states):
        layers = states["layers"] if attention is not None else states
        y = embedding(tokens)  # [batch, E]
        new_states: list[tf.Tensor] = []
        for i, cell in enumerate(cells):
            y, (h, c) = cell(y, [layers[2 * i], layers[2 * i + 1]], training=False)
            new_states += [h, c]
        if attention is not None:  # [batch, H] -> [batch, 1, H] -> attentional [batch, H]
            y = attention(tf.expand_dims(y, 1), states["memory"], states["mask"])[0][:, 0]
        logits = tf.cast(projection(y), tf.float32)  # [batch, V]
        if attention is not None:
            return tf.nn.log_softmax(logits, axis=-1), {**states, "layers": tuple(new_states)}
        return tf.nn.log_softmax(logits, axis=-1), tuple(new_states)
    return step


def make_cell_encode(model: keras.Model) -> Callable[[tf.Tensor], States]:
    """Like `make_encode`, but runs every encoder layer's cell in one explicit loop over time.

    Only element-wise ops, matmuls and a `tf.while_loop` with fixed-shape carries remain (no
    `tf.scan`/`TensorArray`), which converts to TFLite builtins. Right-padded steps leave
    the states unchanged, so the result equals `make_encode`'s up to float rounding.

    Returns:
        `encode(src_ids [batch, src_len]) → (h_0, c_0, h_1, c_1, …)`, each `[batch, H]`.
    """
    if attention_layer(model) is not None:
        raise ValueError("The builtins-only TFLite export does not handle attention models "
                         "yet; export this run as a SavedModel (`keras-s2s export`).")
    embedding = model.get_layer("encoder_embedding")
    layers = [model.get_layer(f"encoder_lstm_{i}") for i in range(num_layers(model))]

    def encode(src_ids: tf.Tensor) -> States:
        x = embedding(src_ids)  # [batch, src_len, E]
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(src_ids, 0), tf.int32), axis=1)  # [batch]
        batch = tf.shape(src_ids)[0]
        init = tuple(tf.zeros([batch, layer.units], tf.float32)
                     for layer in layers for _ in ("h", "c"))

        def body(t, states):
            y = tf.gather(x, t, axis=1)  # [batch, E]
            keep = tf.expand_dims(t < lengths, 1)  # [batch, 1]
            new: list[tf.Tensor] = []
            for i, layer in enumerate(layers):
                old_h, old_c = states[2 * i], states[2 * i + 1]
                y, (h, c) = layer.cell(y, [old_h, old_c], training=False)
                new += [tf.where(keep, tf.cast(h, tf.float32), old_h),
                        tf.where(keep, tf.cast(c, tf.float32), old_c)]
            return t + 1, tuple(new)

        steps = tf.reduce_max(lengths)  # the longest sentence's length
        _, states = tf.while_loop(lambda t, _: t < steps, body, (tf.constant(0), init))
        return states
    return encode
