"""`Driver`: translate, n-best-translate and score lists of strings in length-sorted batches."""

from __future__ import annotations

from typing import Callable, Literal, NamedTuple, Sequence, TypeVar, get_args

import numpy as np

from keras_s2s.constants import (
    INPUT_BEAM_SIZE,
    INPUT_N_BEST,
    INPUT_PREFIX,
    INPUT_SOURCE,
    INPUT_TARGET,
    INPUT_TEXT,
    OUTPUT_ATTENTION,
    OUTPUT_LOG_PROB,
    OUTPUT_NUM_TOKENS,
    OUTPUT_SOURCE_PIECES,
    OUTPUT_SOURCE_TOKENS,
    OUTPUT_SOURCE_TOKENS_READ,
    OUTPUT_TARGET_PIECES,
    OUTPUT_TRANSLATION,
    SIG_ALIGN,
    SIG_SCORE,
    SIG_TRANSLATE,
    SIG_TRANSLATE_CONTROLLED,
    SIG_TRANSLATE_GREEDY,
    SIG_TRANSLATE_NBEST,
    SIG_TRANSLATE_SAMPLE,
)
from keras_s2s.driver.backends import Backend
from keras_s2s.driver.hypothesis import Alignment, Hypothesis, as_strings, hypotheses
from keras_s2s.driver.request import SampleOptions, SearchOptions

Item = TypeVar("Item")
Result = TypeVar("Result")
OnLongInput = Literal["truncate", "error"]  # a source longer than the model reads


class LongInput(NamedTuple):
    """A sentence the model read only in part (it has more than `decode.max_src_len` tokens)."""

    index: int  # 0-based position in the call's input
    tokens: int  # source tokens it has
    read: int  # source tokens the model read

    def message(self, what: str = "line") -> str:
        return (f"{what} {self.index + 1} has {self.tokens} source tokens; the model reads the "
                f"first {self.read} (decode.max_src_len)")


def in_length_order(fn: Callable[[list[Item]], Sequence[Result]], items: Sequence[Item],
                    batch_size: int, length: Callable[[Item], int] = len) -> list[Result]:
    """Calls `fn(batch) → one result per item` on batches of similar `length` (less padding,
    fewer decoding steps) and returns the results in the order of `items`."""
    order = sorted(range(len(items)), key=lambda i: length(items[i]))
    results: list = [None] * len(items)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        for i, result in zip(chunk, fn([items[i] for i in chunk])):
            results[i] = result
    return results


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1; received: {name}={value}.")


class Driver:
    """Decodes lists of strings with one back end, in length-sorted batches.

    Every command that decodes goes through it, so `--model-dir`, `--saved-model` and
    `--server` behave alike: the same signatures are called with the same inputs.

    Args:
        backend: a `TranslatorBackend`, `SavedModelBackend` or `ServerBackend`.
        batch_size: sentences per call.
        on_long_input: a sentence longer than the model reads is cut ("truncate": listed in
            `long_inputs` after the call) or is an error ("error": a ValueError naming it).

    Example:
        >>> driver = Driver(SavedModelBackend("exports/numbers_fr"))
        >>> texts, log_probs = driver.translate(["1 234"], beam_size=5)
    """

    def __init__(self, backend: Backend, batch_size: int = 64,
                 on_long_input: OnLongInput = "truncate", options: SearchOptions | None = None):
        _positive("batch_size", batch_size)
        if on_long_input not in get_args(OnLongInput):
            raise ValueError(f"on_long_input must be one of {get_args(OnLongInput)}; "
                             f"received: {on_long_input!r}.")
        self.backend, self.batch_size, self.on_long_input = backend, batch_size, on_long_input
        self.options = options  # every search's settings, if given (else the model's own)
        self.long_inputs: list[LongInput] = []  # of the last call, in input order

    def _call(self, signature: str, batch: list[tuple[int, object]], inputs: dict) -> dict:
        """One back-end call for `(index, item)` pairs; notes (or refuses) long sources."""
        out = self.backend.call(signature, inputs)
        if OUTPUT_SOURCE_TOKENS in out and OUTPUT_SOURCE_TOKENS_READ in out:
            for (index, _), tokens, read in zip(batch, out[OUTPUT_SOURCE_TOKENS].tolist(),
                                                out[OUTPUT_SOURCE_TOKENS_READ].tolist()):
                if read < tokens:
                    self.long_inputs.append(LongInput(index, tokens, read))
        if self.on_long_input == "error" and self.long_inputs:
            raise ValueError(f"{min(self.long_inputs).message()}. Shorten it, or pass "
                             "--on-long-input truncate to translate its beginning.")
        return out

    def _run(self, fn, items: Sequence, length: Callable = len) -> list:
        """`in_length_order` over `(index, item)` pairs; `long_inputs` sorted afterwards."""
        self.long_inputs = []
        results = in_length_order(fn, list(enumerate(items)), self.batch_size,
                                  length=lambda pair: length(pair[1]))
        self.long_inputs.sort()
        return results

    def translate(self, texts: Sequence[str], beam_size: int | None = None
                  ) -> tuple[list[str], list[float]]:
        """The best translation of each sentence and its log-probability.

        Args:
            texts: sentences.
            beam_size: None for the model's own `translate` signature (its configured beam),
                1 for greedy search, k > 1 for a beam of k.
        """
        if self.options is not None or (beam_size is not None and beam_size != 1):
            best = [hyps[0] for hyps in self.nbest(texts, 1, beam_size)]
            return [h.text for h in best], [h.log_prob for h in best]
        signature = SIG_TRANSLATE if beam_size is None else SIG_TRANSLATE_GREEDY

        def run(batch: list[tuple[int, str]]) -> list[tuple[str, float]]:
            out = self._call(signature, batch, {INPUT_TEXT: _texts(batch)})
            return list(zip(as_strings(out[OUTPUT_TRANSLATION]), out[OUTPUT_LOG_PROB].tolist()))
        pairs = self._run(run, texts)
        return [text for text, _ in pairs], [log_prob for _, log_prob in pairs]

    def nbest(self, texts: Sequence[str], n_best: int, beam_size: int | None,
              prefixes: Sequence[str] | None = None, options: SearchOptions | None = None
              ) -> list[list[Hypothesis]]:
        """Per sentence, the `n_best` best hypotheses of a beam of `beam_size`, best first.

        `prefixes` (one per text, "" for none) force the start of each output; `options`
        (default: the Driver's) set the length penalty, limits and coverage penalty. Either
        one sends the call to `translate_controlled`, which every back end serves alike,
        and lets `beam_size` be None (the model's own).
        """
        options = options or self.options
        controlled = prefixes is not None or options is not None
        if beam_size is not None or not controlled:
            _positive("beam_size", beam_size or 0)
        _positive("n_best", n_best)
        if beam_size is not None and n_best > beam_size:
            raise ValueError(f"A beam of {beam_size} keeps at most {beam_size} hypotheses; "
                             f"received: n_best={n_best}. Raise the beam size.")
        extra = (options or SearchOptions()).inputs() if controlled else {}
        items = _with_prefixes(texts, prefixes)

        def run(batch: list[tuple[int, tuple[str, str]]]) -> list[list[Hypothesis]]:
            inputs = {INPUT_TEXT: _texts(batch), INPUT_BEAM_SIZE: np.int32(beam_size or 0),
                      INPUT_N_BEST: np.int32(n_best), **extra}
            if controlled:
                inputs[INPUT_PREFIX] = _prefixes(batch)
            signature = SIG_TRANSLATE_CONTROLLED if controlled else SIG_TRANSLATE_NBEST
            return hypotheses(self._call(signature, batch, inputs))
        return self._run(run, items, length=lambda item: len(item[0]))

    def sample(self, texts: Sequence[str], options: SampleOptions,
               prefixes: Sequence[str] | None = None) -> list[list[Hypothesis]]:
        """Per sentence, `options.num_samples` sampled translations (e.g. for
        back-translation), in sample order, each with the model's log-probability."""
        extra = options.inputs()

        def run(batch: list[tuple[int, tuple[str, str]]]) -> list[list[Hypothesis]]:
            return hypotheses(self._call(SIG_TRANSLATE_SAMPLE, batch, {
                INPUT_TEXT: _texts(batch), INPUT_PREFIX: _prefixes(batch), **extra}))
        return self._run(run, _with_prefixes(texts, prefixes), length=lambda item: len(item[0]))

    def align(self, texts: Sequence[str]) -> list[Alignment]:
        """Each sentence's translation (the model's configured search) with its attention
        weights over the source pieces (zeros for a model without attention)."""
        def run(batch: list[tuple[int, str]]) -> list[Alignment]:
            out = self._call(SIG_ALIGN, batch, {INPUT_TEXT: _texts(batch)})
            rows = zip(as_strings(out[OUTPUT_TRANSLATION]), as_strings(out[OUTPUT_SOURCE_PIECES]),
                       as_strings(out[OUTPUT_TARGET_PIECES]), out[OUTPUT_ATTENTION])
            return [Alignment(text, [p for p in src if p], [p for p in tgt if p],
                              weights[:sum(map(bool, tgt)), :sum(map(bool, src))])
                    for text, src, tgt, weights in rows]
        return self._run(run, texts)

    def score(self, sources: Sequence[str], targets: Sequence[str]
              ) -> tuple[list[float], list[int]]:
        """`log p(target | source)` of each pair and its number of target tokens (`</s>`
        included), so that perplexity is `exp(-Σ log_prob / Σ num_tokens)`."""
        if len(sources) != len(targets):
            raise ValueError(f"Scoring needs one target per source; received "
                             f"{len(sources)} sources and {len(targets)} targets.")

        def run(batch: list[tuple[int, tuple[str, str]]]) -> list[tuple[float, int]]:
            out = self._call(SIG_SCORE, batch, {
                INPUT_SOURCE: np.array([s for _, (s, _) in batch], dtype=object),
                INPUT_TARGET: np.array([t for _, (_, t) in batch], dtype=object)})
            return list(zip(out[OUTPUT_LOG_PROB].tolist(), out[OUTPUT_NUM_TOKENS].tolist()))
        scored = self._run(run, list(zip(sources, targets)),
                           length=lambda pair: len(pair[0]) + len(pair[1]))
        return [lp for lp, _ in scored], [n for _, n in scored]

    def score_nbest(self, sources: Sequence[str],
                    candidates: Sequence[Sequence[tuple[str, float]]]) -> list[list[float]]:
        """`log p(hypothesis | source)` of every `(hypothesis, score)` candidate, per source:
        all candidates of all sentences are scored together, in length-sorted batches."""
        pairs = [(source, hyp) for source, hyps in zip(sources, candidates) for hyp, _ in hyps]
        flat, _ = self.score([s for s, _ in pairs], [h for _, h in pairs])
        ends = np.cumsum([len(hyps) for hyps in candidates])
        return [flat[end - len(hyps):end] for end, hyps in zip(ends, candidates)]


def _texts(batch: list[tuple[int, str | tuple[str, str]]]) -> np.ndarray:
    """The texts of `(index, text)` or `(index, (text, prefix))` pairs."""
    return np.array([item if isinstance(item, str) else item[0] for _, item in batch],
                    dtype=object)


def _prefixes(batch: list[tuple[int, tuple[str, str]]]) -> np.ndarray:
    return np.array([prefix for _, (_, prefix) in batch], dtype=object)


def _with_prefixes(texts: Sequence[str], prefixes: Sequence[str] | None
                   ) -> list[tuple[str, str]]:
    """`(text, prefix)` pairs ("" = no prefix), or an error when the counts differ."""
    if prefixes is None:
        return [(text, "") for text in texts]
    if len(prefixes) != len(texts):
        raise ValueError(f"One prefix per sentence (\"\" for none): received {len(prefixes)} "
                         f"prefixes for {len(texts)} sentences.")
    return list(zip(texts, prefixes))
