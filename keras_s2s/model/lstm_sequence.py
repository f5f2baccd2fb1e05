"""The LSTM time loop with a hand-written backward pass, in a feature-major `[H, batch]` layout."""

from __future__ import annotations

import functools

import tensorflow as tf


def lstm_sequence(z, h0, c0, recurrent, keep=None):
    """Runs an LSTM over time, given the input projections of every step.

    Two things make this faster on a CPU than `tf.scan` with autodiff, whose time goes into
    small ops rather than matmuls:

    - Every tensor in the loop is feature-major (`[4H, b]`, `[H, b]`), so cutting the gates
      apart is a split along the first axis, which shares the buffer instead of copying.
    - The backward loop carries only `dh, dc`, with one `Uᵀ`-side matmul per step; the
      recurrent gradient `dU = Σ_t h_{t-1} dz_tᵀ` is one `[H, T·b] @ [T·b, 4H]` matmul after
      the loop, where autodiff accumulates one small matmul per step.

    Gate order (i, f, c, o), as in `keras.layers.LSTM`. Steps where `keep` is 0 (right
    padding) carry `h, c` unchanged, so the last state is the one after the last real token.

    Args:
        z: `[T, 4H, b]` float32, `Wᵀx_t + b` for every step.
        h0: `[H, b]` in the matmul dtype (float32 or bfloat16).
        c0: `[H, b]` float32.
        recurrent: `[H, 4H]` recurrent kernel U in the matmul dtype.
        keep: optional `[T, 1, b]` float32, 1 on real steps and 0 on padding.

    Returns:
        `hs [T, H, b]` (matmul dtype), the output after each step, and the last cell state
        `c [H, b]` (float32).
    """
    if keep is None:
        return _sequence_fn(masked=False)(z, h0, c0, recurrent)
    return _sequence_fn(masked=True)(z, h0, c0, recurrent, keep)


@functools.cache
def _sequence_fn(masked: bool):
    """The custom-gradient function for masked or unmasked (no padding inside) sequences."""

    @tf.custom_gradient
    def sequence(z, h0, c0, recurrent, keep=None):
        hs, cs, sig, g = _forward(z, h0, c0, recurrent, keep)

        def grad(d_hs, d_c_last):
            d_hs = tf.zeros_like(hs) if d_hs is None else d_hs  # outputs no loss uses
            d_c_last = tf.zeros_like(c0) if d_c_last is None else d_c_last
            c_prev = tf.concat([tf.expand_dims(c0, 0), cs[:-1]], 0)  # [T, H, b]
            dz, dh0, dc0 = _backward(d_hs, d_c_last, cs, c_prev, sig, g, recurrent, keep)
            h_prev = tf.concat([tf.expand_dims(h0, 0), hs[:-1]], 0)  # [T, H, b]
            # dU = Σ_t h_{t-1} dz_tᵀ: [H, T·b] @ [T·b, 4H] in one matmul.
            h_flat = tf.reshape(tf.transpose(h_prev, [1, 0, 2]), [tf.shape(h0)[0], -1])
            dz_flat = tf.reshape(tf.transpose(dz, [1, 0, 2]),
                                 [tf.shape(recurrent)[1], -1])
            d_recurrent = tf.matmul(h_flat, dz_flat, transpose_b=True)
            dz = tf.cast(dz, tf.float32)  # z is float32 (the cast of a bf16 matmul under bf16)
            return [dz, dh0, dc0, d_recurrent] + ([None] if masked else [])  # keep: no grad

        return (hs, cs[-1]), grad

    return sequence


def _forward(z, h0, c0, recurrent, keep):
    """The forward loop. Returns `hs [T, H, b]`, `cs [T, H, b]`, the sigmoids of all four
    gate pre-activations `sig [T, 4H, b]` and the candidate `g [T, H, b]` (all float32 but hs).
    """
    steps, dtype = tf.shape(z)[0], h0.dtype
    arrays = [tf.TensorArray(d, size=steps) for d in (dtype, tf.float32, tf.float32, tf.float32)]
    # Uᵀ laid out once: oneDNN's matmul is ~15% faster on it than with `transpose_a` inside
    # the loop, and Eigen's (oneDNN off) almost 3x faster.
    recurrent_t = tf.transpose(recurrent)  # [4H, H]

    def body(t, h, c, hs, cs, sigs, gs):
        zs = z[t] + tf.cast(tf.matmul(recurrent_t, h), tf.float32)  # [4H, b]
        sig = tf.sigmoid(zs)  # the c slot's sigmoid is unused: one op beats three
        i, f, _, o = tf.split(sig, 4, axis=0)
        g = tf.tanh(tf.split(zs, 4, axis=0)[2])
        c_new = f * c + i * g
        h_new = tf.cast(o * tf.tanh(c_new), dtype)
        if keep is not None:
            k = keep[t] > 0  # [1, b]
            h_new, c_new = tf.where(k, h_new, h), tf.where(k, c_new, c)
        return (t + 1, h_new, c_new, hs.write(t, h_new), cs.write(t, c_new), sigs.write(t, sig),
                gs.write(t, g))

    _, _, _, *arrays = tf.while_loop(lambda t, *_: t < steps, body, (0, h0, c0, *arrays))
    return [a.stack() for a in arrays]


def _backward(d_hs, d_c_last, cs, c_prev, sig, g, recurrent, keep):
    """The reverse loop: `(dh, dc)` carried from step T back to 1, `dz_t [4H, b]` stored.

    Everything that does not depend on the carried `(dh, dc)` is computed for all steps at
    once before the loop (`_gate_factors`), so each step runs a handful of small ops around
    its one matmul rather than some thirty.

    Returns:
        `dz [T, 4H, b]` and `dh0 [H, b]` in the matmul dtype, `dc0 [H, b]` float32.
    """
    steps, dtype = tf.shape(cs)[0], recurrent.dtype
    d_hs = tf.cast(d_hs, tf.float32)  # one cast for all steps
    a, b, carry_c, carry_h, a_f = _gate_factors(cs, c_prev, sig, g, keep)

    def body(t, dh, dc, dzs):
        dh = dh + d_hs[t]
        dc_total = dc + dh * a[t]  # [H, b]
        dz = tf.cast(tf.concat([dc_total, dc_total, dc_total, dh], 0) * b[t], dtype)  # [4H, b]
        dh_prev = tf.cast(tf.matmul(recurrent, dz), tf.float32)  # [H, b]
        if keep is None:
            return t - 1, dh_prev, dc_total * carry_c[t], dzs.write(t, dz)
        # A padded step passes (dh, dc) through untouched: its factors are 0 in b and a_f.
        return (t - 1, dh_prev + carry_h[t] * dh, dc * carry_c[t] + dh * a_f[t],
                dzs.write(t, dz))

    zeros = tf.zeros_like(d_c_last)
    _, dh0, dc0, dzs = tf.while_loop(
        lambda t, *_: t >= 0, body,
        (steps - 1, zeros, d_c_last, tf.TensorArray(dtype, size=steps)))
    return dzs.stack(), tf.cast(dh0, dtype), dc0


def _gate_factors(cs, c_prev, sig, g, keep):
    """The step-independent factors of the backward loop, for all `T` steps at once.

    With `dc_total = dc + dh * a`, a step's gate gradients are
    `dz = [dc_total, dc_total, dc_total, dh] * b` and the cell gradient it hands back is
    `dc_total * f`. With padding (`keep`), `b` is zeroed on padded steps, and the carried
    gradients become `dh_prev = U dz + carry_h * dh`, `dc_prev = dc * carry_c + dh * a_f`.

    Returns:
        `a [T, H, b]`, `b [T, 4H, b]`, `carry_c [T, H, b]` (`f`, or `k f + 1 - k` with
        padding), `carry_h [T, 1, b]` (`1 - k`) and `a_f [T, H, b]` (`k a f`); the last two
        are None without padding.
    """
    i, f, _, o = tf.split(sig, 4, axis=1)  # [T, H, b] each
    d_sig = sig * (1.0 - sig)
    d_i, d_f, _, d_o = tf.split(d_sig, 4, axis=1)
    tanh_c = tf.tanh(cs)
    a = o * (1.0 - tanh_c * tanh_c)
    b = tf.concat([g * d_i, c_prev * d_f, i * (1.0 - g * g), tanh_c * d_o], 1)  # [T, 4H, b]
    if keep is None:
        return a, b, f, None, None
    return a, b * keep, keep * f + (1.0 - keep), 1.0 - keep, keep * a * f
