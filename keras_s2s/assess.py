"""Test-set figures of a run or an export: BLEU (detokenized and tokenized), chrF, perplexity."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import tensorflow as tf

from keras_s2s.constants import OUTPUT_LOG_PROB, OUTPUT_NUM_TOKENS, RESERVED_TOKENS
from keras_s2s.data.tokenizer import WORD_START, VocabTokenizer
from keras_s2s.decode.translator import in_length_order
from keras_s2s.evaluation import corpus_scores, perplexity, tokenized_bleu


class Decoder:
    """The signatures of a reloaded SavedModel, or the same functions of an in-process
    Translator (one run or an ensemble), behind one interface.

    Args:
        functions: `name → fn(**tensors)`: `translate_greedy`, `translate_nbest`, `score`.
        keep: the object owning the functions (a `tf.function` holds its owner weakly).
    """

    def __init__(self, functions: dict, keep: object):
        self._functions, self._keep = functions, keep

    @classmethod
    def from_saved_model(cls, path: str | Path) -> "Decoder":
        from keras_s2s.export.saved_model import load_saved_model

        loaded = load_saved_model(path)
        return cls(dict(loaded.signatures), loaded)

    @classmethod
    def from_translator(cls, translator: tf.Module) -> "Decoder":
        names = ("translate_greedy", "translate_nbest", "score")
        return cls({name: getattr(translator, name) for name in names}, translator)

    def nbest(self, texts: Sequence[str], beam_size: int, n_best: int, batch_size: int = 32
              ) -> list[list[tuple[str, float]]]:
        """Per sentence, `n_best` `(translation, log_prob)` pairs, best first (sorted by
        length so batches pad little; returned in input order)."""

        def run(batch: list[str]) -> list[list[tuple[str, float]]]:
            text = tf.constant(batch, tf.string)
            if beam_size == 1:  # greedy: the same result as a beam of 1, faster
                res = self._functions["translate_greedy"](text=text)
                words, lps = res["translation"][:, None], res["log_prob"][:, None]
            else:
                res = self._functions["translate_nbest"](
                    text=text, beam_size=tf.constant(beam_size), n_best=tf.constant(n_best))
                words, lps = res["translations"], res["log_probs"]
            return [[(w.decode("utf-8"), float(s)) for w, s in zip(row, scores)]
                    for row, scores in zip(words.numpy(), lps.numpy())]
        return in_length_order(run, texts, batch_size)

    def translate(self, texts: Sequence[str], beam_size: int, batch_size: int = 32) -> list[str]:
        """The best translation of each sentence."""
        return [best[0][0] for best in self.nbest(texts, beam_size, 1, batch_size)]

    def score(self, sources: Sequence[str], targets: Sequence[str], batch_size: int = 64
              ) -> tuple[list[float], list[int]]:
        """`log p(target | source)` and the number of target tokens (`</s>` included)."""
        log_probs: list[float] = []
        tokens: list[int] = []
        for start in range(0, len(sources), batch_size):
            res = self._functions["score"](
                source=tf.constant(list(sources[start:start + batch_size]), tf.string),
                target=tf.constant(list(targets[start:start + batch_size]), tf.string))
            log_probs += res[OUTPUT_LOG_PROB].numpy().tolist()
            tokens += res[OUTPUT_NUM_TOKENS].numpy().tolist()
        return log_probs, tokens


def word_tokenized(texts: Sequence[str]) -> list[str]:
    """Texts split into words and punctuation, joined by spaces (for paper-style BLEU)."""
    splitter = VocabTokenizer(list(RESERVED_TOKENS), "word")
    pieces = splitter.split(tf.constant(list(texts), tf.string)).to_list()
    return [" ".join(p.decode("utf-8").lstrip(WORD_START) for p in row) for row in pieces]


def evaluate(decoder: Decoder, sources: Sequence[str], refs: Sequence[str], beam_size: int = 5,
             batch_size: int = 32, hyps: Sequence[str] | None = None) -> dict:
    """Decodes `sources` and scores the result against `refs`.

    Returns:
        `{"bleu", "chrf", "bleu_tokenized", "perplexity", "signature", "chrf_signature",
        "bleu_tokenized_signature", "sentences", "beam_size"}`.
    """
    if hyps is None:
        hyps = decoder.translate(sources, beam_size, batch_size)
    scores = corpus_scores(hyps, refs)
    tokenized = tokenized_bleu(word_tokenized(hyps), word_tokenized(refs))
    log_probs, tokens = decoder.score(sources, refs)
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
