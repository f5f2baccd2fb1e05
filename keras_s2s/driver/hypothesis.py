"""What the decoding signatures return, as Python values: `Hypothesis` (n-best and sampled
translations with their alignments and token scores) and `Alignment`."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from keras_s2s.constants import (
    OUTPUT_ALIGNMENTS,
    OUTPUT_LOG_PROBS,
    OUTPUT_SCORES,
    OUTPUT_TOKEN_LOG_PROBS,
    OUTPUT_TOKENS,
    OUTPUT_TRANSLATIONS,
)


class Hypothesis(NamedTuple):
    """One translation of a sentence."""

    text: str
    score: float  # what the search ranked by (length-penalised when a penalty is set)
    log_prob: float  # log p(text | source), `</s>` included
    # Per output token, the source token (0-based, reading order) it attended to most; the
    # source's token count stands for its `</s>`. Empty for models without attention.
    alignment: tuple[int, ...] = ()
    # Per output token, `</s>` included: its piece and log-probability (they sum to
    # `log_prob`). Empty from exports made before token scores existed.
    tokens: tuple[tuple[str, float], ...] = ()


class Alignment(NamedTuple):
    """What attention did while translating one sentence."""

    translation: str
    source: list[str]  # the source pieces in reading order, then "</s>"
    target: list[str]  # the output pieces, then "</s>"
    weights: np.ndarray  # [len(target), len(source)]: row t, output piece t's attention


def hypotheses(out: dict[str, np.ndarray]) -> list[list[Hypothesis]]:
    """The `[b, n]` outputs of `translate_nbest`, `translate_controlled` or
    `translate_sample` → per sentence its hypotheses, in the signature's order."""
    texts = as_strings(out[OUTPUT_TRANSLATIONS])
    alignments = _alignments(out.get(OUTPUT_ALIGNMENTS), np.shape(texts))
    tokens = _token_scores(out.get(OUTPUT_TOKENS), out.get(OUTPUT_TOKEN_LOG_PROBS),
                           np.shape(texts))
    rows = zip(texts, out[OUTPUT_SCORES].tolist(), out[OUTPUT_LOG_PROBS].tolist(), alignments,
               tokens)
    return [[Hypothesis(*hyp) for hyp in zip(*row)] for row in rows]


def as_strings(values: np.ndarray) -> list:
    """A numpy array of bytes (any shape) → nested lists of `str`."""
    return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(values).tolist()


def _alignments(values: np.ndarray | None, shape: tuple[int, int]) -> list[list[tuple]]:
    """`[b, n, L]` positions (-1 from `</s>` on) → per hypothesis a tuple of positions; empty
    tuples when the back end sends none (exports made before alignments existed)."""
    if values is None:
        return [[()] * shape[1] for _ in range(shape[0])]
    return [[tuple(int(p) for p in itertools.takewhile(lambda p: p >= 0, row))
             for row in sentence] for sentence in values]


def _token_scores(pieces: np.ndarray | None, log_probs: np.ndarray | None,
                  shape: tuple[int, int]) -> list[list[tuple]]:
    """`[b, n, L]` pieces ("" after the end) and their log-probs → per hypothesis a tuple of
    `(piece, log_prob)`; empty tuples when the back end sends none."""
    if pieces is None or log_probs is None:
        return [[()] * shape[1] for _ in range(shape[0])]
    return [[tuple((piece, float(lp)) for piece, lp in zip(as_strings(p), row) if piece)
             for p, row in zip(sentence_pieces, sentence_lps)]
            for sentence_pieces, sentence_lps in zip(pieces, log_probs)]
