"""What the searches' hooks do: a forced prefix (greedy and beam) and GNMT's coverage
penalty, checked against teacher-forced scoring of the same outputs."""

import numpy as np
import pytest
import tensorflow as tf
from test_beam_search import SRC, model_fns

from keras_s2s.constants import PAD_ID
from keras_s2s.decode.beam_search import beam_search
from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.prefix import prefix_constraint, with_prefix_room
from keras_s2s.decode.scoring import force_decode, score_targets
from keras_s2s.driver import SampleOptions, SearchOptions

LIMITS = tf.constant([6, 6])
PREFIX = tf.constant([[5, 6], [4, PAD_ID]])
PREFIX_LENGTHS = tf.constant([2, 1])


def test_an_empty_prefix_changes_nothing():
    encode, step = model_fns(scale=1.0)
    none = prefix_constraint(tf.zeros([2, 0], tf.int32), tf.zeros([2], tf.int32))
    free = beam_search(encode, step, SRC, LIMITS, 3, 2)
    forced = beam_search(encode, step, SRC, LIMITS, 3, 2, constrain=none)
    np.testing.assert_array_equal(free.ids, forced.ids)
    np.testing.assert_array_equal(free.scores, forced.scores)


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_a_prefix_starts_every_output_and_its_tokens_are_scored(search):
    encode, step = model_fns(scale=1.0)
    constrain = prefix_constraint(PREFIX, PREFIX_LENGTHS)
    limits = with_prefix_room(tf.constant([1, 1]), PREFIX_LENGTHS)
    assert limits.numpy().tolist() == [3, 2]
    if search == "greedy":
        hyps = greedy_search(encode, step, SRC, LIMITS, constrain=constrain)
    else:
        hyps = beam_search(encode, step, SRC, LIMITS, 4, 3, constrain=constrain)
    ids = hyps.ids.numpy()
    assert (ids[0, :, :2] == [5, 6]).all() and (ids[1, :, :1] == 4).all()
    for n in range(ids.shape[1]):
        np.testing.assert_allclose(score_targets(encode, step, SRC, hyps.ids[:, n]),
                                   hyps.log_probs[:, n], atol=1e-4)


def test_the_coverage_penalty_is_gnmt_over_the_attention_received():
    encode, step = model_fns(scale=1.0, options=["model.attention=general"])
    beta = 0.3
    hyps = beam_search(encode, step, SRC, LIMITS, 3, 3, coverage_penalty=beta)
    real_src = (SRC.numpy() != PAD_ID)
    for n in range(3):
        ids = hyps.ids[:, n]
        _, weights = force_decode(encode, step, SRC, ids, with_weights=True)  # [b, T, S]
        real_tgt = (ids.numpy() != PAD_ID)[:, :, None]
        coverage = (weights.numpy() * real_tgt).sum(axis=1)  # [b, S]
        coverage = np.where(real_src, np.minimum(coverage, 1.0), 1.0)
        expected = hyps.log_probs[:, n].numpy() + beta * np.log(coverage).sum(axis=1)
        np.testing.assert_allclose(hyps.scores[:, n], expected, atol=1e-3)
    assert (hyps.scores.numpy() < hyps.log_probs.numpy() - 1e-4).any()


@pytest.mark.parametrize("options, says", [
    (SearchOptions(length_penalty=-0.5), "length_penalty must be >= 0"),
    (SearchOptions(max_len_b=-2), "max_len_b must be >= 0"),
    (SampleOptions(num_samples=0), "num_samples must be >= 1"),
    (SampleOptions(temperature=-1.0, top_p=0.0), "temperature must be >= 0; received: -1.0; "
                                                 "top_p must be in (0, 1]"),
    (SampleOptions(top_k=-3), "top_k must be >= 0"),
])
def test_request_options_are_checked_before_sending(options, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        options.inputs()
