"""A first encoder layer that reads the source both ways (GNMT, OpenNMT-tf's concat bridge)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def lstm_units(layer: keras.layers.Layer) -> int:
    """H of a recurrent layer: `FastLSTM` and Keras' LSTM say it, the peephole RNN's cell
    does."""
    return getattr(layer, "units", None) or layer.cell.units


class BidirectionalLSTM(keras.layers.Layer):
    """Two LSTMs of `H/2` units, one reading the real tokens forwards and one backwards;
    outputs and final states are concatenated, so the layer has the interface of a one-way
    LSTM of `H` units (`return_sequences` and `return_state`).

    Only the real tokens are reversed for the backward direction (`tf.reverse_sequence` by
    length), so right padding stays right and its final state is the one after reading the
    sentence's first token. The decoder's layer 0 starts from `[h_fwd; h_bwd]`,
    `[c_fwd; c_bwd]`: each half the state of one direction after the whole sentence.

    Args:
        forward, backward: one-way layers of `H/2` units returning sequences and states.

    Call arguments:
        inputs: `[batch, T, in]`; mask: optional `[batch, T]` bool, True on real steps.

    Returns:
        `[outputs [batch, T, H], h [batch, H], c [batch, H]]`.
    """

    def __init__(self, forward: keras.layers.Layer, backward: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.forward_layer, self.backward_layer = forward, backward
        self.supports_masking = True

    def build(self, input_shape):
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)

    def call(self, inputs, mask=None, training=False):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # [b]
        out_f, h_f, c_f = self.forward_layer(inputs, mask=mask, training=training)
        reversed_in = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
        out_b, h_b, c_b = self.backward_layer(reversed_in, mask=mask, training=training)
        out_b = tf.reverse_sequence(out_b, lengths, seq_axis=1, batch_axis=0)
        return [ops.concatenate([out_f, out_b], -1), ops.concatenate([h_f, h_b], -1),
                ops.concatenate([c_f, c_b], -1)]

    def compute_mask(self, inputs, mask=None):
        return [mask, None, None]

    def compute_output_shape(self, input_shape):
        units = 2 * lstm_units(self.forward_layer)
        batch = input_shape[0]
        return [(batch, input_shape[1], units), (batch, units), (batch, units)]
