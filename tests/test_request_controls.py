"""Per-request controls of the Translator's signatures: a forced prefix, the length penalty,
output limits and the coverage penalty in `translate_controlled`, and `translate_sample`."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import train_tiny

from keras_s2s import runs

TEXTS = ["7", "123 456", "42", "3,005"]
DEFAULTS = dict(length_penalty=-1.0, max_len_a=-1.0, max_len_b=-1, coverage_penalty=-1.0)


def controlled(translator, texts=TEXTS, prefix=None, beam=3, n=2, **changes):
    controls = {**DEFAULTS, **changes}
    return translator.translate_controlled(
        tf.constant(texts), tf.constant(prefix or [""] * len(texts)), tf.constant(beam),
        tf.constant(n), tf.constant(controls["length_penalty"], tf.float32),
        tf.constant(controls["max_len_a"], tf.float32), tf.constant(controls["max_len_b"]),
        tf.constant(controls["coverage_penalty"], tf.float32))


def sampled(translator, texts=TEXTS, prefix=None, num=3, temperature=1.0, top_k=0, top_p=1.0,
            seed=5):
    return translator.translate_sample(
        tf.constant(texts), tf.constant(prefix or [""] * len(texts)), tf.constant(num),
        tf.constant(temperature), tf.constant(top_k), tf.constant(top_p),
        tf.constant(seed, tf.int64))


def strings(tensor):
    return np.vectorize(lambda b: b.decode(), otypes=[object])(tensor.numpy()).tolist()


def test_the_defaults_reproduce_translate_nbest_exactly(tiny_translator):
    old = tiny_translator.translate_nbest(tf.constant(TEXTS), tf.constant(3), tf.constant(2))
    new = controlled(tiny_translator)
    for key in ("translations", "tokens"):
        assert strings(new[key]) == strings(old[key])
    for key in ("scores", "log_probs", "token_log_probs"):
        np.testing.assert_array_equal(new[key], old[key])


def test_a_forced_prefix_starts_every_output_and_is_scored(tiny_translator):
    plain = strings(controlled(tiny_translator)["translations"])
    prefix = ["cent", "", "quarante", "trois mille"]
    out = controlled(tiny_translator, prefix=prefix)
    texts = strings(out["translations"])
    for i, start in enumerate(prefix):
        assert all(t.startswith(start) for t in texts[i])
        assert texts[i][0] == plain[i][0] or start  # an empty prefix changes nothing
    scored = tiny_translator.score(tf.constant(TEXTS), tf.constant([t[0] for t in texts]))
    np.testing.assert_allclose(scored["log_prob"], out["log_probs"][:, 0], atol=1e-4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one string per text"):
        controlled(tiny_translator, prefix=["cent"])


def test_length_limits_and_penalty_come_from_the_request(tiny_translator):
    short = controlled(tiny_translator, max_len_a=0.0, max_len_b=2)
    assert ((short["tokens"].numpy() != b"").sum(axis=2) <= 2).all()
    out = controlled(tiny_translator, length_penalty=1.0)
    lengths = (out["tokens"].numpy() != b"").sum(axis=2)
    np.testing.assert_allclose(out["scores"], out["log_probs"] / ((5 + lengths) / 6), rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="coverage_penalty needs"):
        controlled(tiny_translator, coverage_penalty=0.5)  # the paper's model: no attention


def test_the_coverage_penalty_lowers_scores_of_an_attention_model(tmp_path_factory):
    run, _ = train_tiny(tmp_path_factory, "coverage", "data.task_size=300", "train.epochs=0.2",
                        "model.attention=general")
    translator = runs.load_translator(run)
    off = controlled(translator, coverage_penalty=0.0)
    on = controlled(translator, coverage_penalty=0.4, beam=4, n=4)
    penalty = on["scores"].numpy() - on["log_probs"].numpy()  # α = 0: only coverage
    assert (penalty <= 1e-6).all() and (penalty < -1e-3).any()
    assert strings(controlled(translator)["translations"]) == strings(off["translations"])


def test_sampling_signature_seeds_prefixes_and_greedy_limit(tiny_translator):
    greedy = tiny_translator.translate_greedy(tf.constant(TEXTS))["translation"].numpy()
    cold = sampled(tiny_translator, temperature=0.0)
    assert all((row == greedy[i]).all() for i, row in enumerate(cold["translations"].numpy()))
    together = sampled(tiny_translator, num=6, temperature=1.5)
    alone = sampled(tiny_translator, texts=TEXTS[2:3], num=6, temperature=1.5)
    assert strings(together["translations"])[2] == strings(alone["translations"])[0]
    other = sampled(tiny_translator, num=6, temperature=1.5, seed=6)
    assert strings(other["translations"]) != strings(together["translations"])
    scored = tiny_translator.score(tf.constant(TEXTS), together["translations"][:, 0])
    ended = [row[0][-1] == "</s>" if "</s>" in row[0] else False
             for row in [[[p for p in hyp if p] for hyp in s] for s in strings(
                 together["tokens"])]]  # a sample cut at its limit has no </s> to score
    assert any(ended)
    np.testing.assert_allclose(scored["log_prob"].numpy()[ended],
                               together["log_probs"].numpy()[ended, 0], atol=1e-4)
    forced = sampled(tiny_translator, prefix=["", "cent", "", ""], temperature=1.5)
    assert all(t.startswith("cent") for t in strings(forced["translations"])[1])
