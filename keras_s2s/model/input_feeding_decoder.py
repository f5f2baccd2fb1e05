"""The attention decoder with input feeding (Luong et al. 2015, §3.3), run step by step."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_s2s.model.fast_lstm import FastLSTM
from keras_s2s.model.luong_attention import LuongAttention


class InputFeedingDecoder(keras.layers.Layer):
    """The decoder LSTM stack and attention, where each step's input is the target embedding
    joined with the previous attentional state `h̃_{t-1}` (zeros at the first step).

    Feeding `h̃` back makes the decoder a loop over time that training cannot batch, so the
    loop is kept lean: the first layer's input projection of every embedding is one matmul
    before the loop (only `h̃_{t-1}`'s share of it runs per step, for `FastLSTM`), `concat`
    attention keys are computed once, and dropout masks are drawn before the loop.

    Args:
        lstms: the decoder layers (`decoder_lstm_{i}`: `FastLSTM`, Keras' LSTM or the
            peephole RNN), each with `.cell`; the first takes `E + H` inputs.
        attention: the `LuongAttention` layer (`attention`).
        dropout: the rate on the inputs of layers 1… and on `h̃` (which is also what is fed).

    Call arguments:
        embedded: `[batch, T, E]` target embeddings (`<s> y1 …`), dropout already applied.
        initial_state: `[[h, c], …]` one pair `[batch, H]` per layer (the encoder's).
        memory: `[batch, S, H]` top encoder outputs; memory_mask: `[batch, S]` bool.

    Returns:
        `[batch, T, H]` attentional states `h̃_1 … h̃_T` (dropout applied when training).
    """

    def __init__(self, lstms: list, attention: LuongAttention, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.lstms, self.attention, self.rate = list(lstms), attention, dropout
        self.dropouts = [keras.layers.Dropout(dropout) for _ in range(len(lstms))]

    def build(self, embedded_shape, initial_state_shape=None, memory_shape=None,
              memory_mask_shape=None):
        units = self.attention.units
        self.lstms[0].build((None, None, embedded_shape[-1] + units))
        for lstm in self.lstms[1:]:
            lstm.build((None, None, units))
        self.attention.build((None, None, units), (None, None, units))

    def _masks(self, batch, steps, training) -> list:
        """Dropout masks `[T, b, H]` (1/keep or 0) for the inputs of layers 1… and for `h̃`."""
        if not training or self.rate <= 0:
            return [None] * len(self.lstms)
        ones = ops.ones((steps, batch, self.attention.units), "float32")
        return [drop(ones, training=True) for drop in self.dropouts]

    def _first_projection(self, embedded):
        """`FastLSTM`: `W_e x_t + b` for all steps `[T, b, 4H]`, and `W_h` for `h̃`'s share."""
        first = self.lstms[0]
        if not isinstance(first, FastLSTM):
            return None, None
        emb_dim = embedded.shape[-1]
        kernel = ops.convert_to_tensor(first.kernel)
        z = ops.matmul(embedded, kernel[:emb_dim]) + first.bias  # [b, T, 4H] in one matmul
        return tf.transpose(ops.cast(z, "float32"), [1, 0, 2]), kernel[emb_dim:]

    def call(self, embedded, initial_state, memory, memory_mask, training=False):
        batch, steps = tf.shape(embedded)[0], tf.shape(embedded)[1]
        masks = self._masks(batch, steps, training)
        z_emb, feed_kernel = self._first_projection(embedded)
        inputs = tf.transpose(embedded, [1, 0, 2])  # [T, b, E]
        keys = self.attention.memory_keys(memory)
        feed = ops.zeros((batch, self.attention.units), memory.dtype)
        states = tuple(tf.cast(s, memory.dtype) if j == 0 else tf.cast(s, "float32")
                       for pair in initial_state for j, s in enumerate(pair))

        def body(t, feed, states, outputs):
            if z_emb is not None:  # x_t's share precomputed; only h̃_{t-1}'s runs here
                z = z_emb[t] + ops.cast(ops.matmul(feed, feed_kernel), "float32")
                y, (h, c) = self.lstms[0].recur(z, states[0], states[1])
            else:
                y, (h, c) = self.lstms[0].cell(ops.concatenate([inputs[t], feed], -1),
                                               [states[0], states[1]], training=training)
            new = [h, c]
            for i, lstm in enumerate(self.lstms[1:], start=1):
                if masks[i] is not None:
                    y = y * ops.cast(masks[i][t], y.dtype)
                y, (h, c) = lstm.cell(y, [states[2 * i], states[2 * i + 1]], training=training)
                new += [h, c]
            feed, _ = self.attention(ops.expand_dims(y, 1), memory, memory_mask, keys)
            feed = feed[:, 0]  # [b, H]
            if masks[0] is not None:  # dropout on h̃: what the projection reads and is fed
                feed = feed * ops.cast(masks[0][t], feed.dtype)
            new = tuple(tf.cast(n, o.dtype) for n, o in zip(new, states))
            return t + 1, feed, new, outputs.write(t, feed)

        outputs = tf.TensorArray(memory.dtype, size=steps)
        _, _, _, outputs = tf.while_loop(lambda t, *_: t < steps, body,
                                         (tf.constant(0), feed, states, outputs))
        return tf.transpose(outputs.stack(), [1, 0, 2])  # [b, T, H]

    def compute_output_shape(self, embedded_shape, initial_state_shape=None, memory_shape=None,
                             memory_mask_shape=None):
        return (*embedded_shape[:2], self.attention.units)
