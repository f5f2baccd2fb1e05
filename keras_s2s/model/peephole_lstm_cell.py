"""The paper's LSTM cell with peephole connections (Graves 2013), which Keras' LSTM lacks."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_s2s")
class PeepholeLSTMCell(keras.layers.Layer):
    """LSTM cell whose gates also see the cell state (diagonal peephole weights).

    `i = σ(W_i x + U_i h + p_i ⊙ c + b_i)`, `f = σ(W_f x + U_f h + p_f ⊙ c + b_f)`,
    `c' = f ⊙ c + i ⊙ tanh(W_c x + U_c h + b_c)`, `o = σ(W_o x + U_o h + p_o ⊙ c' + b_o)`,
    `h' = o ⊙ tanh(c')`. Wrap it in `keras.layers.RNN` to run over a sequence.

    Args:
        units: hidden size H.
        kernel_initializer, recurrent_initializer, bias_initializer, peephole_initializer:
            initializers (the paper: all U(-0.08, 0.08)).

    Call arguments:
        inputs: `[batch, in]`.
        states: `[h [batch, H], c [batch, H]]`.

    Returns:
        `(h', [h', c'])`.
    """

    def __init__(self, units: int, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 peephole_initializer="glorot_uniform", **kwargs):
        kwargs.pop("unit_forget_bias", None)  # accepted for symmetry with keras.layers.LSTM
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units
        self.initializers = {
            "kernel_initializer": keras.initializers.get(kernel_initializer),
            "recurrent_initializer": keras.initializers.get(recurrent_initializer),
            "bias_initializer": keras.initializers.get(bias_initializer),
            "peephole_initializer": keras.initializers.get(peephole_initializer),
        }

    def build(self, input_shape):
        h, init = self.units, self.initializers
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * h), name="kernel",
                                      initializer=init["kernel_initializer"])
        self.recurrent_kernel = self.add_weight(shape=(h, 4 * h), name="recurrent_kernel",
                                                initializer=init["recurrent_initializer"])
        self.bias = self.add_weight(shape=(4 * h,), name="bias",
                                    initializer=init["bias_initializer"])
        # [3, H]: input, forget and output gate peepholes.
        self.peephole = self.add_weight(shape=(3, h), name="peephole",
                                        initializer=init["peephole_initializer"])

    def call(self, inputs, states, training=False):
        h, c = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)  # each [batch, H]
        i = ops.sigmoid(z_i + self.peephole[0] * c)
        f = ops.sigmoid(z_f + self.peephole[1] * c)
        c_new = f * c + i * ops.tanh(z_c)
        o = ops.sigmoid(z_o + self.peephole[2] * c_new)
        h_new = o * ops.tanh(c_new)
        return h_new, [h_new, c_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                **{k: keras.initializers.serialize(v) for k, v in self.initializers.items()}}
