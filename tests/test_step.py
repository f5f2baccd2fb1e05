"""The helpers every search shares: banned tokens, length limits, ensembles of step functions."""

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID
from keras_s2s.decode.ensemble import ensemble
from keras_s2s.decode.step import NEG_INF, ban_special, max_target_lengths


def test_pad_and_bos_are_never_generated():
    log_probs = tf.zeros([2, 6])
    banned = ban_special(log_probs).numpy()
    assert (banned[:, PAD_ID] == NEG_INF).all() and (banned[:, BOS_ID] == NEG_INF).all()
    assert (banned[:, EOS_ID] == 0).all() and (banned[:, 5] == 0).all()


def test_length_limit_counts_real_source_tokens_without_eos():
    src = tf.constant([[5, 6, 7, EOS_ID], [5, EOS_ID, PAD_ID, PAD_ID], [EOS_ID, 0, 0, 0]])
    assert max_target_lengths(src, 1.5, 10).numpy().tolist() == [15, 12, 10]
    assert max_target_lengths(src, 0.0, 3).numpy().tolist() == [3, 3, 3]


def _member(bias):
    """A toy model: its log-probs favour token `bias`; its state counts steps."""
    def encode(src_ids):
        return tf.zeros([tf.shape(src_ids)[0]])

    def step(tokens, count):
        logits = tf.one_hot(tf.fill(tf.shape(tokens), bias), 6) * 3.0
        return tf.nn.log_softmax(logits), count + 1.0
    return encode, step


def test_ensemble_averages_log_probs_and_keeps_each_members_state():
    encode, step = ensemble([_member(4), _member(5)])
    states = encode(tf.zeros([3, 2], tf.int32))
    assert isinstance(states, tuple) and len(states) == 2
    log_probs, states = step(tf.constant([2, 2, 2]), states)
    single_4 = _member(4)[1](tf.constant([2]), 0.0)[0].numpy()[0]
    single_5 = _member(5)[1](tf.constant([2]), 0.0)[0].numpy()[0]
    np.testing.assert_allclose(log_probs.numpy()[0], (single_4 + single_5) / 2, rtol=1e-6)
    assert [s.numpy().tolist() for s in states] == [[1.0] * 3, [1.0] * 3]


def test_an_ensemble_of_one_is_the_member_and_of_none_an_error():
    member = _member(4)
    assert ensemble([member]) is member
    with pytest.raises(ValueError, match="at least one model"):
        ensemble([])
