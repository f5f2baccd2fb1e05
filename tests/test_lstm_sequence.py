"""The LSTM time loop's hand-written backward pass against autodiff, and its use in FastLSTM."""

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s.model.lstm_sequence import lstm_sequence

T, B, H = 7, 5, 6
LENGTHS = np.array([7, 3, 1, 5, 7])  # right padding after each sentence's last token


def autodiff_reference(z, keep, h0, c0, recurrent):
    """The same LSTM written batch-major with `tf.scan`: `z [T, b, 4H]` → `hs`, last `c`."""
    def step(carry, elems):
        h, c = carry
        z_t, k_t = elems
        z_t = z_t + tf.cast(tf.matmul(h, recurrent), tf.float32)
        i, f, g, o = tf.split(z_t, 4, axis=-1)
        c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h_new = tf.cast(tf.sigmoid(o) * tf.tanh(c_new), h.dtype)
        k = tf.expand_dims(k_t > 0, -1)
        return tf.where(k, h_new, h), tf.where(k, c_new, c)

    hs, cs = tf.scan(step, (z, keep), initializer=(h0, c0))
    return hs, cs[-1]


def loss_and_grads(fn, inputs, weights):
    """A loss that uses every output step and the last cell state, and its gradients."""
    z, h0, c0, recurrent = inputs
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        hs, c_last = fn(*inputs)
        loss = (tf.reduce_sum(tf.cast(hs, tf.float32) * weights[0])
                + tf.reduce_sum(c_last * weights[1]))
    return [loss] + tape.gradient(loss, inputs)


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("dtype,tol", [(tf.float32, 1e-5), (tf.bfloat16, 2e-2)])
def test_gradients_equal_autodiff(masked, dtype, tol):
    rng = np.random.default_rng(0)
    lengths = LENGTHS if masked else np.full(B, T)
    keep = tf.constant((np.arange(T)[:, None] < lengths[None]).astype("float32"))  # [T, b]
    inputs = [tf.constant(rng.normal(size=(T, B, 4 * H)), tf.float32),
              tf.cast(rng.normal(size=(B, H)), dtype), tf.constant(rng.normal(size=(B, H)),
                                                                   tf.float32),
              tf.cast(rng.normal(size=(H, 4 * H)) * 0.3, dtype)]
    weights = [tf.constant(rng.normal(size=(T, B, H)), tf.float32),
               tf.constant(rng.normal(size=(B, H)), tf.float32)]

    def feature_major(z, h0, c0, recurrent):  # the layout lstm_sequence works in
        hs, c_last = lstm_sequence(tf.transpose(z, [0, 2, 1]), tf.transpose(h0),
                                   tf.transpose(c0), recurrent,
                                   tf.expand_dims(keep, 1) if masked else None)
        return tf.transpose(hs, [0, 2, 1]), tf.transpose(c_last)

    got = loss_and_grads(feature_major, inputs, weights)
    want = loss_and_grads(lambda *a: autodiff_reference(a[0], keep, *a[1:]), inputs, weights)
    for name, a, b in zip(["loss", "dz", "dh0", "dc0", "dU"], got, want):
        a, b = tf.cast(a, tf.float32).numpy(), tf.cast(b, tf.float32).numpy()
        assert np.abs(a - b).max() <= tol * max(1.0, np.abs(b).max()), name
    if masked:  # padded steps get no gradient: their inputs are never read
        dz = got[1].numpy()
        assert np.all(dz[np.arange(T)[:, None] >= LENGTHS[None]] == 0)


def test_projecting_each_distinct_id_once_changes_nothing():
    """`FastLSTM(token_ids=...)` runs the input projection on one row per distinct id; the
    outputs and every gradient, the embedding table's included, equal the plain call's."""
    from keras_s2s.model.fast_lstm import FastLSTM

    rng = np.random.default_rng(1)
    ids = tf.constant(np.where(np.arange(T)[None] < LENGTHS[:, None],
                               rng.integers(1, 6, size=(B, T)), 0), tf.int32)  # [b, T], 5 words
    assert len(np.unique(ids)) < ids.shape[0] * ids.shape[1] // 4  # many repeats
    table = tf.Variable(rng.normal(size=(6, 4)), dtype=tf.float32)  # [vocab, in]
    layer = FastLSTM(H, return_sequences=True, return_state=True)
    weights = tf.constant(rng.normal(size=(B, T, H)), tf.float32)
    results = []
    for by_id in (None, ids):
        with tf.GradientTape() as tape:
            x = tf.gather(table, ids)  # [b, T, in]
            out, h, c = layer(x, mask=ids > 0, token_ids=by_id)
            loss = tf.reduce_sum(out * weights) + tf.reduce_sum(h * c)
        grads = tape.gradient(loss, [table, *layer.trainable_variables])
        results.append([out, h, c] + [tf.convert_to_tensor(g) for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
