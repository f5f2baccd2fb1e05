"""Test-set figures of a run or an export: BLEU (detokenized and tokenized), chrF, perplexity."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from keras_s2s.constants import RESERVED_TOKENS
from keras_s2s.data.tokenizer import WORD_START, VocabTokenizer
from keras_s2s.driver import Driver
from keras_s2s.evaluation.metrics import corpus_scores, perplexity, tokenized_bleu


def word_tokenized(texts: Sequence[str]) -> list[str]:
    """Texts split into words and punctuation, joined by spaces (for paper-style BLEU)."""
    splitter = VocabTokenizer(list(RESERVED_TOKENS), "word")
    pieces = splitter.split(tf.constant(list(texts), tf.string)).to_list()
    return [" ".join(p.decode("utf-8").lstrip(WORD_START) for p in row) for row in pieces]


def evaluate(driver: Driver, sources: Sequence[str], refs: Sequence[str], beam_size: int = 5,
             hyps: Sequence[str] | None = None) -> dict:
    """Decodes `sources` (beam search; 1 = greedy) and scores the result against `refs`,
    with perplexity from the model's own `score` of the references.

    Returns:
        `{"bleu", "chrf", "bleu_tokenized", "perplexity", "signature", "chrf_signature",
        "bleu_tokenized_signature", "sentences", "beam_size"}`.
    """
    if hyps is None:
        hyps, _ = driver.translate(sources, beam_size)
    scores = corpus_scores(hyps, refs)
    tokenized = tokenized_bleu(word_tokenized(hyps), word_tokenized(refs))
    log_probs, tokens = driver.score(sources, refs)
    return {"bleu": scores["bleu"], "chrf": scores["chrf"], "bleu_tokenized": tokenized["bleu"],
            "perplexity": round(perplexity(log_probs, tokens), 3),
            "signature": scores["bleu_signature"], "chrf_signature": scores["chrf_signature"],
            "bleu_tokenized_signature": tokenized["signature"],
            "exact_match": scores["exact_match"], "sentences": len(sources),
            "beam_size": beam_size}


def format_figures(figures: dict) -> str:
    """Human-readable lines: each BLEU/chrF beside its sacrebleu signature."""
    return (f"BLEU = {figures['bleu']:.2f}  ({figures['signature']})\n"
            f"BLEU tokenized = {figures['bleu_tokenized']:.2f}  "
            f"({figures['bleu_tokenized_signature']})\n"
            f"chrF = {figures['chrf']:.2f}  ({figures['chrf_signature']})\n"
            f"perplexity = {figures['perplexity']:.3f}  (beam {figures['beam_size']}, "
            f"{figures['sentences']} sentences)")
