"""Inference views of a trained seq2seq model: `encode(ids) → states`, `step(token, states)`."""

from __future__ import annotations

import functools
from typing import Callable

import keras
import tensorflow as tf

from keras_s2s.model.bidirectional_lstm import BidirectionalLSTM, lstm_units
from keras_s2s.model.seq2seq import decoder_parts, num_layers, output_projection

States = tuple[tf.Tensor, ...]


def _state_maker(model: keras.Model) -> Callable[..., States | dict]:
    """`make(layers, memory, mask)`: what a search carries for this model (its decoder
    looked up once): the `(h_0, c_0, …)` tuple of the paper's model, or for attention the
    dict `{"layers", "memory" [b, S, H], "mask" [b, S] bool, "weights" [b, S] float32}` (the
    last step's attention, zeros before the first step) and, with input feeding, `"feed"`
    `[b, H]` (`h̃` of the last step, zeros at first)."""
    _, attention, feeding = decoder_parts(model)
    return functools.partial(_search_state, attention is not None, feeding)


def _search_state(attends: bool, feeding: bool, layers: States, memory: tf.Tensor,
                  mask: tf.Tensor) -> States | dict:
    if not attends:
        return tuple(layers)
    state = {"layers": tuple(layers), "memory": memory, "mask": mask,
             "weights": tf.zeros(tf.shape(mask), tf.float32)}
    if feeding:
        state["feed"] = tf.zeros_like(memory[:, 0])
    return state


def make_encode(model: keras.Model) -> Callable[[tf.Tensor], States | dict]:
    """Returns `encode(src_ids [batch, src_len]) → (h_0, c_0, h_1, c_1, …)`, each `[batch, H]`.

    With attention it returns the dict of `_state_maker`: the search carries the memory in
    its state (every field batch-major, so beams tile and gather it like the LSTM states).
    The view shares the weights of `model`; layers are found by name, never by index.
    """
    embedding = model.get_layer("encoder_embedding")
    lstms = [model.get_layer(f"encoder_lstm_{i}") for i in range(num_layers(model))]
    search_state = _state_maker(model)

    def encode(src_ids: tf.Tensor) -> States | dict:
        x = embedding(src_ids)  # [batch, src_len, E], with the padding mask attached
        mask = tf.not_equal(src_ids, 0)
        states: list[tf.Tensor] = []
        for lstm in lstms:
            x, h, c = lstm(x, mask=mask, training=False)
            states += [h, c]
        return search_state(states, x, mask)
    return encode


class ModelStep:
    """A model's search step: `step(tokens [batch], states) → (log_probs [batch, V] float32,
    states)`.

    Runs each `decoder_lstm_{i}` layer's cell once, so a search loop pays for one step only;
    with attention, the top output attends over `states["memory"]` first (and with input
    feeding the input is the embedding joined with `states["feed"]`). `bind()` returns the
    same step with the cells' and the output projection's weights laid out and cast once: a
    search calls it before its loop, so no step transposes or casts them.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.embedding = model.get_layer("decoder_embedding")
        lstms, self.attention, self.feeding = decoder_parts(model)
        self.cells = [lstm.cell for lstm in lstms]

    def bind(self) -> Callable[[tf.Tensor, States], tuple[tf.Tensor, States]]:
        cells = [cell.bind() if hasattr(cell, "bind") else cell for cell in self.cells]
        return functools.partial(self._run, output_projection(self.model), cells)

    def __call__(self, tokens: tf.Tensor, states):
        return self.bind()(tokens, states)

    def _run(self, projection, cells, tokens: tf.Tensor, states):
        attention, feeding = self.attention, self.feeding
        layers = states["layers"] if attention is not None else states
        y = self.embedding(tokens)  # [batch, E]
        if feeding:  # [batch, E + H]
            y = tf.concat([y, tf.cast(states["feed"], y.dtype)], axis=-1)
        new_states: list[tf.Tensor] = []
        for i, cell in enumerate(cells):
            y, (h, c) = cell(y, [layers[2 * i], layers[2 * i + 1]], training=False)
            new_states += [h, c]
        if attention is None:
            return tf.nn.log_softmax(tf.cast(projection(y), tf.float32), -1), tuple(new_states)
        # [batch, H] -> [batch, 1, H] -> attentional [batch, H], weights [batch, S]
        y, weights = attention(tf.expand_dims(y, 1), states["memory"], states["mask"])
        new = {**states, "layers": tuple(new_states),
               "weights": tf.cast(weights[:, 0], tf.float32)}
        if feeding:
            new["feed"] = y[:, 0]
        logits = tf.cast(projection(y[:, 0]), tf.float32)  # [batch, V]
        return tf.nn.log_softmax(logits, axis=-1), new


def make_step(model: keras.Model) -> ModelStep:
    """The model's search step (see `ModelStep`)."""
    return ModelStep(model)


def make_cell_encode(model: keras.Model) -> Callable[[tf.Tensor], States]:
    """Like `make_encode`, but runs every encoder layer's cell in one explicit loop over time.

    Only element-wise ops, matmuls and a `tf.while_loop` with fixed-shape carries remain (no
    `tf.scan`/`TensorArray`), which converts to TFLite builtins. Right-padded steps leave
    the states unchanged, so the result equals `make_encode`'s up to float rounding.

    With attention the top layer's outputs are written into a `[batch, S, H]` memory by a
    one-hot update (`S`, the input width, is fixed in a TFLite export).

    Returns:
        `encode(src_ids [batch, src_len])`, giving what `make_encode`'s gives.
    """
    embedding = model.get_layer("encoder_embedding")
    layers = [model.get_layer(f"encoder_lstm_{i}") for i in range(num_layers(model))]
    if isinstance(layers[0], BidirectionalLSTM):
        raise ValueError("The builtins-only TFLite export reads the source in one direction; "
                         "this run has model.bidirectional_encoder: true. Export it as a "
                         "SavedModel (`keras-s2s export`).")
    search_state = _state_maker(model)

    def encode(src_ids: tf.Tensor):
        x = embedding(src_ids)  # [batch, src_len, E]
        mask = tf.not_equal(src_ids, 0)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # [batch]
        batch, width = tf.shape(src_ids)[0], tf.shape(src_ids)[1]
        units = [lstm_units(layer) for layer in layers]
        init = tuple(tf.zeros([batch, n], tf.float32) for n in units for _ in ("h", "c"))
        memory = tf.zeros([batch, width, units[-1]], tf.float32)  # [batch, S, H]

        def body(t, states, memory):
            y = tf.gather(x, t, axis=1)  # [batch, E]
            keep = tf.expand_dims(t < lengths, 1)  # [batch, 1]
            new: list[tf.Tensor] = []
            for i, layer in enumerate(layers):
                old_h, old_c = states[2 * i], states[2 * i + 1]
                y, (h, c) = layer.cell(y, [old_h, old_c], training=False)
                new += [tf.where(keep, tf.cast(h, tf.float32), old_h),
                        tf.where(keep, tf.cast(c, tf.float32), old_c)]
            at_t = tf.reshape(tf.one_hot(t, width, dtype=tf.float32), [1, -1, 1])  # [1, S, 1]
            memory += at_t * tf.expand_dims(tf.cast(y, tf.float32), 1)
            return t + 1, tuple(new), memory

        steps = tf.reduce_max(lengths)  # the longest sentence's length
        _, states, memory = tf.while_loop(lambda t, *_: t < steps, body,
                                          (tf.constant(0), init, memory))
        return search_state(states, memory, mask)
    return encode
