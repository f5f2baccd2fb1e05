"""Scores from strings and log-probs: exact match, sacrebleu BLEU/chrF + signatures, perplexity."""

from __future__ import annotations

import math
from typing import Sequence

import sacrebleu


def _check(hyps: Sequence[str], refs: Sequence[str]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"Got {len(hyps)} hypotheses but {len(refs)} references; "
                         "each hypothesis needs exactly one reference.")
    if not refs:
        raise ValueError("Nothing to evaluate: received 0 references.")


def exact_match(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Share of hypotheses equal to their reference after stripping outer whitespace."""
    _check(hyps, refs)
    return sum(h.strip() == r.strip() for h, r in zip(hyps, refs)) / len(refs)


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Detokenized, cased sacrebleu BLEU (13a) alone, rounded to 2 decimals."""
    _check(hyps, refs)
    return round(sacrebleu.metrics.BLEU().corpus_score(list(hyps), [list(refs)]).score, 2)


def closest_to(candidates: Sequence[Sequence[str]], refs: Sequence[str]) -> list[str]:
    """Per sentence, the candidate with the highest sentence BLEU (13a, exp smoothing,
    effective order) against its reference: an n-best list's oracle. Among equals the first
    wins, so a list keeps its model's order on ties.

    Args:
        candidates: per sentence, a non-empty list of hypotheses (e.g. an n-best list).
        refs: one reference per sentence.
    """
    _check(candidates, refs)
    if not all(candidates):
        raise ValueError("Every sentence needs at least one candidate; received an empty list.")
    metric = sacrebleu.metrics.BLEU(effective_order=True)
    return [max(texts, key=lambda text: metric.sentence_score(text, [ref]).score)
            for texts, ref in zip(candidates, refs)]


def bleu_signature() -> str:
    """The sacrebleu signature of `bleu` and `corpus_scores`' BLEU."""
    metric = sacrebleu.metrics.BLEU()
    metric.corpus_score(["a"], [["a"]])  # sacrebleu fills the signature in on first use
    return str(metric.get_signature())


def corpus_scores(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, object]:
    """Detokenized, cased sacrebleu BLEU (13a) and chrF, each with its signature.

    Returns:
        `{"bleu", "bleu_signature", "chrf", "chrf_signature", "exact_match"}`.
    """
    _check(hyps, refs)
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(list(hyps), [list(refs)])
    chrf_score = chrf.corpus_score(list(hyps), [list(refs)])
    return {
        "bleu": round(bleu_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf": round(chrf_score.score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "exact_match": round(exact_match(hyps, refs), 4),
    }


def tokenized_bleu(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, object]:
    """BLEU on already tokenized text (sacrebleu `tokenize="none"`), as the paper reported.

    Returns:
        `{"bleu", "signature"}`.
    """
    _check(hyps, refs)
    bleu = sacrebleu.metrics.BLEU(tokenize="none")
    score = bleu.corpus_score(list(hyps), [list(refs)])
    return {"bleu": round(score.score, 2), "signature": str(bleu.get_signature())}


def perplexity(log_probs: Sequence[float], tokens: Sequence[int]) -> float:
    """`exp(-Σ log p / Σ tokens)` over a corpus."""
    total = sum(tokens)
    if total == 0:
        raise ValueError("Perplexity needs at least one target token; received none.")
    return math.exp(-sum(log_probs) / total)


def format_scores(scores: dict[str, object]) -> str:
    """Human-readable lines: every score beside its sacrebleu signature."""
    return (f"BLEU = {scores['bleu']:.2f}  ({scores['bleu_signature']})\n"
            f"chrF = {scores['chrf']:.2f}  ({scores['chrf_signature']})\n"
            f"exact match = {scores['exact_match']:.4f}")
