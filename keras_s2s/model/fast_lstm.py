"""A sequence LSTM for CPUs: one matmul for all input projections, then only `h @ U` per step."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_s2s.model.lstm_sequence import lstm_sequence


class _Cell:
    """One step of a `FastLSTM`, with its weights: `(x [b, in], [h, c]) → (h', [h', c'])`."""

    def __init__(self, layer: "FastLSTM"):
        self.layer = layer

    def __call__(self, inputs, states, training=False):
        return self.bind()(inputs, states, training)

    def bind(self):
        """The step with the weights cast to the compute dtype here, once: a decoding loop
        calls the result, so no step casts them (outside a layer call Keras does not cast
        variables, and a float32 weight would turn a bf16 matmul into a float32 one)."""
        layer = self.layer
        dtype = layer.compute_dtype
        kernel, bias = ops.cast(layer.kernel, dtype), ops.cast(layer.bias, dtype)
        recurrent = ops.cast(layer.recurrent_kernel, dtype)  # [H, 4H]

        def step(inputs, states, training=False):
            z = ops.matmul(ops.cast(inputs, dtype), kernel) + bias  # [b, 4H]
            return layer.recur(z, states[0], states[1], recurrent)
        return step


@keras.saving.register_keras_serializable(package="keras_s2s")
class FastLSTM(keras.layers.Layer):
    """LSTM over a whole sequence, with the weight layout and gate order (i, f, c, o) of
    `keras.layers.LSTM`.

    Keras' LSTM on a CPU multiplies the inputs by the kernel inside its time loop, one small
    matmul per step. Here `x @ W + b` is one `[batch * time, in] @ [in, 4H]` matmul, and the
    time loop (`lstm_sequence`, with a hand-written backward pass) keeps only the recurrent
    `h @ U`. Masked steps (right padding) carry the state unchanged, so the final state is
    the one after the last real token.

    Args:
        units: hidden size H.
        return_sequences: return all outputs `[batch, time, H]` (else the last `[batch, H]`).
        return_state: also return the final `h` and `c`.
        kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias: as in
            `keras.layers.LSTM`.

    Call arguments:
        inputs: `[batch, time, in]`.
        initial_state: optional `[h [batch, H], c [batch, H]]`.
        mask: optional `[batch, time]` bool, True on real steps.
        token_ids: optional `[batch, time]` int, the ids whose embeddings `inputs` are, when
            equal ids give equal rows (no dropout in between): the input projection then
            runs once per distinct id.
    """

    def __init__(self, units: int, return_sequences: bool = False, return_state: bool = False,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.return_sequences, self.return_state = return_sequences, return_state
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.supports_masking = True
        self.cell = _Cell(self)

    def build(self, input_shape):
        h = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * h), name="kernel",
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(shape=(h, 4 * h), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer)

        def forget_bias_one(shape, dtype=None):  # forget-gate biases start at 1
            return ops.concatenate([self.bias_initializer((h,), dtype), ops.ones((h,), dtype),
                                    self.bias_initializer((2 * h,), dtype)])
        self.bias = self.add_weight(
            shape=(4 * h,), name="bias",
            initializer=forget_bias_one if self.unit_forget_bias else self.bias_initializer)

    def recur(self, z, h, c, recurrent_kernel=None):
        """Adds `h @ U` to the input projection `z [b, 4H]` and applies the gates.

        The matmul runs in the compute dtype (bf16 under mixed precision); the gates and
        the cell state `c` stay float32, since `c` accumulates over the whole sentence.
        `recurrent_kernel`: `U` already cast (by `cell.bind()`); the layer's own by default.
        """
        if recurrent_kernel is None:
            recurrent_kernel = self.recurrent_kernel
        recurrent = ops.matmul(ops.cast(h, self.compute_dtype), recurrent_kernel)
        z = ops.cast(z, "float32") + ops.cast(recurrent, "float32")
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(z_f) * ops.cast(c, "float32") + ops.sigmoid(z_i) * ops.tanh(z_c)
        h = ops.sigmoid(z_o) * ops.tanh(c)
        return ops.cast(h, self.compute_dtype), [ops.cast(h, self.compute_dtype), c]

    def input_projection(self, inputs, token_ids=None):
        """`inputs @ W + b` for every step at once: `[b, T, in]` → `[b, T, 4H]`.

        With `token_ids [b, T]` (see the class), the matmul runs on one row per distinct id,
        about a third of the rows of a batch of 64 sentences, and its results are copied to
        every position of that id. Autodiff gives `dW` from those rows too, and hands each
        id's whole input gradient to its first position (the embedding sums them per id).
        """
        if token_ids is None:
            return ops.matmul(inputs, self.kernel) + self.bias
        batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
        ids = tf.reshape(token_ids, [-1])  # [b·T]
        distinct, where = tf.unique(ids)  # [u]; [b·T], each position's index in distinct
        first = tf.math.unsorted_segment_min(tf.range(tf.size(ids)), where,
                                             tf.size(distinct))  # [u], a position of each
        rows = tf.gather(tf.reshape(inputs, [batch * steps, inputs.shape[-1]]), first)
        z = ops.matmul(rows, self.kernel) + self.bias  # [u, 4H]
        return tf.reshape(tf.gather(z, where), [batch, steps, 4 * self.units])

    def call(self, inputs, initial_state=None, mask=None, training=False, token_ids=None):
        batch = ops.shape(inputs)[0]
        if initial_state is None:
            zeros = ops.zeros((batch, self.units), "float32")
            initial_state = [zeros, zeros]
        h0 = ops.cast(initial_state[0], self.compute_dtype)
        c0 = ops.cast(initial_state[1], "float32")  # the cell state stays float32
        z = self.input_projection(inputs, token_ids)  # [b, T, 4H]
        z = tf.transpose(ops.cast(z, "float32"), [1, 2, 0])  # [T, 4H, b], feature-major
        keep = None  # e.g. the decoder: padding only follows real tokens
        if mask is not None:
            keep = tf.expand_dims(tf.transpose(tf.cast(mask, tf.float32)), 1)  # [T, 1, b]
        recurrent = ops.cast(self.recurrent_kernel, self.compute_dtype)
        hs, c_last = lstm_sequence(z, tf.transpose(h0), tf.transpose(c0), recurrent, keep)
        h_last, c_last = tf.transpose(hs[-1]), tf.transpose(c_last)  # [b, H]
        outputs = tf.transpose(hs, [2, 0, 1]) if self.return_sequences else h_last
        return [outputs, h_last, c_last] if self.return_state else outputs

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        return [out_mask, None, None] if self.return_state else out_mask

    def compute_output_shape(self, inputs_shape, initial_state_shape=None,
                             token_ids_shape=None):
        batch, time = inputs_shape[0], inputs_shape[1]
        out = (batch, time, self.units) if self.return_sequences else (batch, self.units)
        return [out, (batch, self.units), (batch, self.units)] if self.return_state else out

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
