"""Greedy search over hand-written step functions and over a real tiny model."""

import numpy as np
import tensorflow as tf

from keras_s2s.constants import EOS_ID, PAD_ID
from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.step import max_target_lengths

VOCAB = 8


def scripted(plan):
    """A step function that emits `plan[row][t]` with log-prob log(0.9) per step."""
    plan = tf.constant(plan, tf.int32)  # [batch, steps]

    def encode(src_ids):
        return (tf.zeros([tf.shape(src_ids)[0]], tf.int32),)  # state = time step

    def step(tokens, states):
        t = states[0]
        want = tf.gather(plan, tf.minimum(t, plan.shape[1] - 1), batch_dims=1)
        probs = tf.one_hot(want, VOCAB, on_value=0.9, off_value=0.1 / (VOCAB - 1))
        return tf.math.log(probs), (t + 1,)
    return encode, step


def test_greedy_follows_the_step_function_and_stops_at_eos():
    encode, step = scripted([[4, 5, EOS_ID, 6, 6], [6, EOS_ID, 4, 4, 4]])
    src = tf.constant([[4, EOS_ID], [5, EOS_ID]])
    hyps = tf.function(greedy_search, autograph=False)(encode, step, src, tf.constant([10, 10]))
    assert hyps.ids[:, 0].numpy().tolist() == [[4, 5, EOS_ID], [6, EOS_ID, PAD_ID]]
    np.testing.assert_allclose(hyps.log_probs[:, 0], [3 * np.log(0.9), 2 * np.log(0.9)],
                               rtol=1e-5)
    np.testing.assert_allclose(hyps.scores, hyps.log_probs)
    np.testing.assert_allclose(hyps.token_log_probs[:, 0],  # each token's; 0 after </s>
                               [[np.log(0.9)] * 3, [np.log(0.9)] * 2 + [0.0]], rtol=1e-5)


def test_per_sentence_length_limits():
    encode, step = scripted([[4] * 6, [5] * 6])
    src = tf.constant([[4, 4, EOS_ID], [5, EOS_ID, PAD_ID]])
    limits = max_target_lengths(src, a=1.0, b=1)  # source lengths 2 and 1
    assert limits.numpy().tolist() == [3, 2]
    ids = greedy_search(encode, step, src, limits).ids[:, 0]
    assert ids.numpy().tolist() == [[4, 4, 4], [5, 5, PAD_ID]]


def test_greedy_on_model_is_batch_invariant(tiny_translator):
    texts = ["7", "123 456", "42", "999999", "3,005"]
    together = tiny_translator.translate(tf.constant(texts))
    for i, text in enumerate(texts):
        alone = tiny_translator.translate(tf.constant([text]))
        assert alone["translation"][0] == together["translation"][i]
        np.testing.assert_allclose(alone["log_prob"][0], together["log_prob"][i], atol=1e-4)
