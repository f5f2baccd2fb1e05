"""The clipped optimizers: the global norm of an embedding's gradient counts each word's
row once, however often the word occurs, and plain SGD's fused update equals the rule."""

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s.train.optimizers import make_optimizer, merge_rows

TABLE = np.arange(12, dtype="float32").reshape(4, 3) / 10.0
IDS = [1, 1, 1, 2, 0, 1]  # word 1 occurs four times


def embedding_gradient():
    """The gradient of `sum(table[IDS] · w)` as TensorFlow gives it: one slice per
    occurrence (`IndexedSlices`), and the same made dense."""
    table = tf.Variable(TABLE)
    weights = tf.constant([[1.0, -2.0, 0.5]] * len(IDS))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(table, IDS) * weights)
    sparse = tape.gradient(loss, table)
    assert isinstance(sparse, tf.IndexedSlices) and len(sparse.indices) == len(IDS)
    return sparse, tf.convert_to_tensor(sparse)


def test_merge_rows_sums_the_slices_of_each_index():
    sparse, dense = embedding_gradient()
    merged = merge_rows(sparse)
    assert merged.indices.numpy().tolist() == [1, 2, 0]
    np.testing.assert_allclose(tf.convert_to_tensor(merged), dense)
    assert merge_rows(dense) is dense


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_clip_takes_the_norm_of_the_summed_rows(name):
    sparse, dense = embedding_gradient()
    clip = 1.0
    assert float(tf.norm(dense)) > clip  # the clip fires
    # Taken slice by slice, the norm would be smaller than the true one (the four slices
    # of word 1 point the same way), and the clip would scale by too much.
    assert float(tf.linalg.global_norm([sparse])) < float(tf.norm(dense))
    after = {}
    for kind, grad in (("sparse", sparse), ("dense", dense)):
        variable = tf.Variable(TABLE)
        make_optimizer(name, 0.5, clip).apply_gradients([(grad, variable)])
        after[kind] = variable.numpy()
    np.testing.assert_allclose(after["sparse"], after["dense"], rtol=1e-6, atol=1e-7)


def test_sgd_applies_the_clipped_rule():
    _, dense = embedding_gradient()
    other = tf.constant([3.0, -4.0])  # a second variable shares the global norm
    norm = float(tf.linalg.global_norm([dense, other]))
    table, bias = tf.Variable(TABLE), tf.Variable([1.0, 1.0])
    make_optimizer("sgd", 0.5, 2.0).apply_gradients([(dense, table), (other, bias)])
    scale = 2.0 / norm
    np.testing.assert_allclose(table.numpy(), TABLE - 0.5 * scale * dense.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), 1.0 - 0.5 * scale * other.numpy(), rtol=1e-6)
    # Under the clip norm, nothing is scaled.
    table = tf.Variable(TABLE)
    make_optimizer("sgd", 0.5, 100.0).apply_gradients([(dense, table)])
    np.testing.assert_allclose(table.numpy(), TABLE - 0.5 * dense.numpy(), rtol=1e-6)
