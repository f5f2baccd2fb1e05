"""Beam search: brute-force optimality, greedy equivalence, batch invariance, scores, ensembles."""

import itertools
import shutil

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s import runs
from keras_s2s.config import resolve
from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from keras_s2s.decode.beam_search import _top_k_rows, beam_search
from keras_s2s.decode.ensemble import ensemble
from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.rescore import rescore
from keras_s2s.decode.scoring import score_targets
from keras_s2s.decode.step import NEG_INF
from keras_s2s.model.inference import make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq

TGT_VOCAB = 7  # <pad> <unk> <s> </s> + 3 words
SRC = tf.constant([[4, 6, 5, EOS_ID], [7, EOS_ID, PAD_ID, PAD_ID]])


ATTENTION_OPTIONS = [[], ["model.attention=general"],
                     ["model.attention=concat", "model.input_feeding=true",
                      "model.bidirectional_encoder=true"]]


def model_fns(seed=0, scale=1.0, options=()):
    cfg = resolve("tiny", overrides=[f"seed={seed}", f"model.init_scale={scale}", *options])
    tf.keras.utils.set_random_seed(seed)
    model = build_seq2seq(cfg.model, 10, TGT_VOCAB)
    return make_encode(model), make_step(model)


def sequence_log_prob(encode, step, src_row, seq):
    states = encode(src_row[None])
    total, token = 0.0, BOS_ID
    for next_token in seq:
        log_probs, states = step(tf.constant([token]), states)
        total += float(log_probs[0, next_token])
        token = next_token
    return total


@pytest.mark.parametrize("options", ATTENTION_OPTIONS, ids=lambda o: " ".join(o) or "paper")
def test_wide_beam_finds_the_brute_force_optimum(options):
    encode, step = model_fns(scale=1.0, options=options)  # peaked: the search has to choose
    allowed = [UNK_ID, EOS_ID, 4, 5, 6]
    limit = 3
    for row in range(2):
        candidates = []
        for length in range(1, limit + 1):
            for seq in itertools.product(allowed, repeat=length):
                if EOS_ID in seq[:-1] or (length < limit and seq[-1] != EOS_ID):
                    continue  # ends at its first </s>, or is cut at the limit
                candidates.append((sequence_log_prob(encode, step, SRC[row], seq), seq))
        best_lp, best_seq = max(candidates)
        ids, _, log_probs, _, _ = beam_search(encode, step, SRC[row:row + 1],
                                              tf.constant([limit]), beam_size=16, n_best=1)
        got = [t for t in ids[0, 0].numpy().tolist() if t != PAD_ID]
        assert got == list(best_seq)
        assert float(log_probs[0, 0]) == pytest.approx(best_lp, abs=1e-4)


def test_beam_one_equals_greedy():
    encode, step = model_fns(scale=0.5)
    limits = tf.constant([6, 4])
    greedy = greedy_search(encode, step, SRC, limits)
    greedy_ids, greedy_lp = greedy.ids[:, 0], greedy.log_probs[:, 0]
    ids, _, log_probs, _, _ = beam_search(encode, step, SRC, limits, beam_size=1, n_best=1)
    width = greedy_ids.shape[1]
    np.testing.assert_array_equal(ids[:, 0, :width], greedy_ids)
    assert (ids[:, 0, width:].numpy() == PAD_ID).all()
    np.testing.assert_allclose(log_probs[:, 0], greedy_lp, atol=1e-5)


@pytest.mark.parametrize("options", ATTENTION_OPTIONS[:2], ids=["paper", "attention"])
def test_nbest_sorted_and_scores_match_scoring(options):
    encode, step = model_fns(scale=0.5, options=options)
    ids, scores, log_probs, token_lps, _ = beam_search(encode, step, SRC, tf.constant([6, 5]),
                                                       beam_size=4, n_best=3)
    assert ids.shape[:2] == (2, 3) and token_lps.shape == ids.shape
    assert (np.diff(scores.numpy(), axis=1) <= 1e-6).all()  # best first
    for n in range(3):
        rescored = score_targets(encode, step, SRC, ids[:, n])
        np.testing.assert_allclose(rescored, log_probs[:, n], atol=1e-4)
    # Each token's own log-probability: they sum to the hypothesis's, 0 after its end.
    np.testing.assert_allclose(token_lps.numpy().sum(axis=2), log_probs, atol=1e-4)
    assert (token_lps.numpy()[ids.numpy() == PAD_ID] == 0).all()
    row, seq = 1, [t for t in ids[1, 2].numpy().tolist() if t != PAD_ID]
    for i in range(len(seq)):
        prefix = sequence_log_prob(encode, step, SRC[row], seq[:i + 1]) - \
            sequence_log_prob(encode, step, SRC[row], seq[:i])
        assert float(token_lps[row, 2, i]) == pytest.approx(prefix, abs=1e-4)


def test_length_penalty_is_gnmt():
    encode, step = model_fns(scale=0.5)
    _, plain, lp0, _, _ = beam_search(encode, step, SRC, tf.constant([6, 6]), 4, 3, alpha=0.0)
    np.testing.assert_allclose(plain, lp0)  # alpha = 0: the score is the log-probability
    ids, penalised, lps, _, _ = beam_search(encode, step, SRC, tf.constant([6, 6]), 4, 3,
                                            alpha=0.8)
    lengths = (ids.numpy() != PAD_ID).sum(axis=2)
    np.testing.assert_allclose(penalised, lps / ((5 + lengths) / 6) ** 0.8, rtol=1e-5)


def test_translator_batch_invariance_and_score_signature(tiny_translator):
    texts = ["7", "123 456", "42", "999999", "3,005", ""]
    together = tiny_translator.translate_nbest(tf.constant(texts), 3, 2)
    for i, text in enumerate(texts):
        alone = tiny_translator.translate_nbest(tf.constant([text]), 3, 2)
        assert alone["translations"].numpy().tolist()[0] == together["translations"].numpy(
        ).tolist()[i]
        np.testing.assert_allclose(alone["log_probs"][0], together["log_probs"][i], atol=1e-4)
    # The score signature gives each finished best hypothesis its beam log-probability.
    best = together["translations"][:, 0]
    scored = tiny_translator.score(tf.constant(texts), best)["log_prob"]
    np.testing.assert_allclose(scored, together["log_probs"][:, 0], atol=1e-4)


def test_ensemble_of_one_is_the_model_and_two_average():
    single = model_fns(seed=1, scale=0.5)
    other = model_fns(seed=2, scale=0.5)
    assert ensemble([single]) is single
    encode, step = ensemble([single, other])
    states = encode(SRC)
    log_probs, _ = step(tf.constant([BOS_ID, BOS_ID]), states)
    a, _ = single[1](tf.constant([BOS_ID, BOS_ID]), single[0](SRC))
    b, _ = other[1](tf.constant([BOS_ID, BOS_ID]), other[0](SRC))
    np.testing.assert_allclose(log_probs, (a + b) / 2, atol=1e-6)
    first = beam_search(encode, step, SRC, tf.constant([6, 6]), 3, 1)
    again = beam_search(encode, step, SRC, tf.constant([6, 6]), 3, 1)
    np.testing.assert_array_equal(first[0], again[0])
    alone = beam_search(*single, SRC, tf.constant([6, 6]), 3, 1)
    assert not np.allclose(first[2], alone[2])


def test_ensemble_vocab_mismatch_is_an_error(tiny_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    with open(other / "tgt.vocab", "a", encoding="utf-8") as handle:
        handle.write("extra\n")
    with pytest.raises(ValueError, match="share vocabularies"):
        runs.load_translator([tiny_run, other])
    assert runs.load_translator([tiny_run, tiny_run]) is not None


def test_rescore_averages_evenly():
    ranked = rescore([[("a", -1.0), ("b", -3.0)]], [[-5.0, -1.0]])
    assert ranked == [[("b", -2.0), ("a", -3.0)]]
    with pytest.raises(ValueError, match="aligned"):
        rescore([[("a", 0.0)]], [])


@pytest.mark.parametrize("vocab", [8004, 600, 100])
def test_blocked_top_k_equals_top_k_ties_included(vocab):
    """The search's top-k over the vocabulary ranks only the blocks that can hold the best
    k; values, indices and the order of ties must be exactly `tf.math.top_k`'s."""
    rng = np.random.default_rng(vocab)
    x = np.round(rng.normal(size=(37, vocab)) * 8) / 8  # many ties
    x[3] = NEG_INF  # a row of equal values
    x = tf.constant(x, tf.float32)
    ranked = tf.function(_top_k_rows)
    for k in (1, 2, 10, 24, 130, 200):
        if k <= vocab:
            values, indices = ranked(x, tf.constant(k))
            expected = tf.math.top_k(x, k)
            np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
            np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
