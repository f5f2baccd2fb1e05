"""Sampling: temperature 0 and top-k 1 are greedy, seeds reproduce per sentence whatever the
batch, top-k and top-p keep exactly the tokens they should."""

import numpy as np
import pytest
import tensorflow as tf
from test_beam_search import SRC, model_fns, sequence_log_prob

from keras_s2s.constants import BOS_ID, PAD_ID
from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.sampling import Sampling, make_sampler, row_keys, sample_search

LIMITS = tf.constant([6, 5])
HASHES = tf.constant([101, 202], tf.int64)


def sample(fns, options, seed=1, num=4, src=SRC, limits=LIMITS, hashes=HASHES):
    return sample_search(*fns, src, limits, num, options, tf.constant(seed, tf.int64), hashes)


@pytest.mark.parametrize("options", [Sampling(temperature=0.0), Sampling(top_k=1)])
def test_temperature_zero_and_top_k_one_are_greedy(options):
    fns = model_fns(scale=1.0)
    greedy = greedy_search(*fns, SRC, LIMITS)
    sampled = sample(fns, options, num=3)
    for j in range(3):
        np.testing.assert_array_equal(sampled.ids[:, j], greedy.ids[:, 0])
        np.testing.assert_allclose(sampled.log_probs[:, j], greedy.log_probs[:, 0], atol=1e-5)


def test_a_seed_reproduces_a_sentence_in_a_batch_and_alone_and_seeds_differ():
    fns = model_fns(scale=1.0)
    together = sample(fns, Sampling(), seed=7, num=8)
    alone = sample(fns, Sampling(), seed=7, num=8, src=SRC[1:], limits=LIMITS[1:],
                   hashes=HASHES[1:])
    width = alone.ids.shape[2]  # the batch ran longer for its other sentence
    np.testing.assert_array_equal(together.ids[1, :, :width], alone.ids[0])
    assert (together.ids[1, :, width:].numpy() == PAD_ID).all()
    np.testing.assert_allclose(together.log_probs[1], alone.log_probs[0], atol=1e-5)
    again = sample(fns, Sampling(), seed=7, num=8)
    np.testing.assert_array_equal(together.ids, again.ids)
    other = sample(fns, Sampling(), seed=8, num=8)
    assert not np.array_equal(together.ids, other.ids)
    assert len({tuple(row) for row in together.ids[0].numpy().tolist()}) > 1  # samples vary
    # Scores are the model's log-probabilities of what was sampled, token by token.
    row = [t for t in together.ids[0, 3].numpy().tolist() if t != PAD_ID]
    assert float(together.log_probs[0, 3]) == pytest.approx(
        sequence_log_prob(*fns, SRC[0], row), abs=1e-4)
    np.testing.assert_allclose(together.token_log_probs.numpy().sum(-1), together.log_probs,
                               atol=1e-4)


def test_top_k_never_leaves_the_k_most_probable_tokens():
    encode, step = model_fns(scale=0.3)  # flat: without top-k, every token is likely
    hyps = sample((encode, step), Sampling(temperature=1.5, top_k=2), seed=3, num=16)
    checked = 0
    for i in range(2):
        for seq in hyps.ids[i].numpy().tolist():
            states, token = encode(SRC[i:i + 1]), BOS_ID
            for next_token in [t for t in seq if t != PAD_ID]:
                log_probs, states = step(tf.constant([token]), states)
                banned = log_probs.numpy()[0].copy()
                banned[[PAD_ID, BOS_ID]] = -np.inf
                assert next_token in np.argsort(-banned, kind="stable")[:2]
                token, checked = next_token, checked + 1
    assert checked > 32


@pytest.mark.parametrize("options, allowed", [
    (Sampling(top_p=0.7), {4, 5}),  # 0.5 + 0.3 reaches 0.7; 0.15 is not needed
    (Sampling(top_p=0.5), {4}),  # the first token alone reaches 0.5
    (Sampling(top_p=0.81), {4, 5, 6}),
    (Sampling(top_k=3, top_p=1.0), {4, 5, 6}),
    (Sampling(), {4, 5, 6, 7}),
])
def test_top_p_keeps_the_smallest_set_reaching_p(options, allowed):
    probs = np.array([0, 0, 0, 0, 0.5, 0.3, 0.15, 0.05])  # <pad> <unk> <s> </s> 4 5 6 7
    log_probs = np.log(np.maximum(probs, 1e-30)).astype(np.float32)
    log_probs[:4] = -1e9
    rows = 4000
    keys = row_keys(tf.constant(5, tf.int64), tf.range(rows, dtype=tf.int64), 1)
    picked = make_sampler(options, keys)(tf.constant(0), tf.constant(np.tile(log_probs,
                                                                             [rows, 1])))
    counts = np.bincount(picked.numpy(), minlength=8)
    assert set(np.flatnonzero(counts)) == allowed
    kept = probs[sorted(allowed)] / probs[sorted(allowed)].sum()
    np.testing.assert_allclose(counts[sorted(allowed)] / rows, kept, atol=0.03)
