"""Metrics on strings: exact match, sacrebleu BLEU/chrF with signatures, perplexity."""

import math

import pytest
import sacrebleu

from keras_s2s.evaluation.metrics import (
    bleu,
    bleu_signature,
    corpus_scores,
    exact_match,
    format_scores,
    perplexity,
    tokenized_bleu,
)

HYPS = ["the cat sat on the mat .", "a dog barks", "hello world"]
REFS = ["the cat sat on the mat .", "the dog barks loudly", "hello , world"]


def test_scores_equal_sacrebleu_itself_and_carry_signatures():
    scores = corpus_scores(HYPS, REFS)
    expected = sacrebleu.corpus_bleu(HYPS, [REFS]).score
    assert scores["bleu"] == pytest.approx(round(expected, 2))
    assert scores["chrf"] == pytest.approx(round(sacrebleu.corpus_chrf(HYPS, [REFS]).score, 2))
    assert "tok:13a" in scores["bleu_signature"] and "nc:6" in scores["chrf_signature"]
    assert scores["exact_match"] == pytest.approx(1 / 3, abs=1e-4)
    assert bleu(HYPS, REFS) == scores["bleu"]
    assert bleu_signature() == scores["bleu_signature"]
    assert "BLEU = " in format_scores(scores) and "tok:13a" in format_scores(scores)


def test_perfect_and_empty_hypotheses():
    assert bleu(REFS, REFS) == 100.0
    assert bleu(["", "", ""], REFS) == 0.0
    assert exact_match([" a "], ["a"]) == 1.0


def test_tokenized_bleu_does_not_retokenize():
    ref = ["l' homme est là , dans la rue ."]
    tokenized = tokenized_bleu(ref, ref)
    assert tokenized["bleu"] == 100.0 and "tok:none" in tokenized["signature"]
    assert tokenized_bleu(["l'homme est là, dans la rue."], ref)["bleu"] < 100.0


def test_perplexity_is_exp_of_mean_negative_log_prob():
    assert perplexity([-2.0, -4.0], [2, 4]) == pytest.approx(math.exp(1.0))
    with pytest.raises(ValueError, match="at least one target token"):
        perplexity([], [])


@pytest.mark.parametrize("hyps, refs, message", [
    (["a"], ["a", "b"], "1 hypotheses but 2 references"),
    ([], [], "0 references"),
])
def test_mismatched_inputs_are_refused(hyps, refs, message):
    with pytest.raises(ValueError, match=message):
        corpus_scores(hyps, refs)
