"""`keras-s2s bench decode`: greedy and beam sentences/s in graph, from a SavedModel, eagerly."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import tensorflow as tf

from keras_s2s import runs
from keras_s2s.bench.host import host_info
from keras_s2s.constants import (
    BOS_ID,
    INPUT_BEAM_SIZE,
    INPUT_N_BEST,
    INPUT_TEXT,
    SIG_TRANSLATE_NBEST,
)
from keras_s2s.decode.step import bind
from keras_s2s.driver import Driver, SampleOptions, SavedModelBackend, TranslatorBackend
from keras_s2s.train.precision import choose_precision


def sentences_per_s(translate: Callable[[list[str]], list[str]], texts: list[str],
                    warmup: list[str]) -> tuple[float, list[str]]:
    """Sentences/s of `translate(texts) → outputs`, after one untimed call on `warmup`."""
    translate(warmup)
    start = time.perf_counter()
    outputs = translate(texts)
    return len(texts) / (time.perf_counter() - start), outputs


class EagerSearch:
    """A back end that runs the Translator's beam search eagerly, outside `tf.function`: a
    `tf.while_loop` there is a Python loop over eager steps (the benchmark's baseline)."""

    description = "eager beam search"

    def __init__(self, translator):
        self.translator = translator

    def call(self, signature: str, inputs: dict) -> dict:
        if signature != SIG_TRANSLATE_NBEST:
            raise ValueError(f"EagerSearch runs {SIG_TRANSLATE_NBEST} only; received "
                             f"{signature!r}.")
        out = self.translator.search(
            tf.constant(inputs[INPUT_TEXT]), tf.constant(inputs[INPUT_BEAM_SIZE]),
            tf.constant(inputs[INPUT_N_BEST]))
        return {key: value.numpy() for key, value in out.items()}


def step_floor_ms(translator, texts: list[str], beam_size: int, repeats: int = 30) -> float:
    """Milliseconds of one compiled decoder step over `len(texts) × beam_size` rows.

    Every search step pays this arithmetic (embedding, LSTM cells, the `[rows, H] @ [H, V]`
    projection, log-softmax), in graph or eagerly; only the search logic around it differs.
    """
    states = translator.encoder_states(tf.constant(texts))
    states = tf.nest.map_structure(lambda s: tf.repeat(s, beam_size, axis=0), states)  # [b*k..]
    tokens = tf.fill([beam_size * len(texts)], BOS_ID)
    step = tf.function(bind(translator.step))
    step(tokens, states)[0].numpy()  # trace
    start = time.perf_counter()
    for _ in range(repeats):
        log_probs, _ = step(tokens, states)
    log_probs.numpy()
    return (time.perf_counter() - start) / repeats * 1000


def bench_decode(model_dirs: list[str], src_path: str, beam_size: int, batch_size: int,
                 limit: int, export_dir: str, precision: str = "fp32") -> dict:
    """Greedy and beam decoding speed: in-graph, from the exported SavedModel, and eager,
    each through a `Driver` (length-sorted batches of `batch_size`), with the search
    computing in `precision` (`decode.precision`).

    Returns:
        `greedy_sent_per_s`, `beam_sent_per_s`, `eager_beam_sent_per_s`,
        `saved_model_greedy_sent_per_s`, `saved_model_beam_sent_per_s`, `sample_sent_per_s`
        (one sample per sentence, temperature 1), `mean_hyp_tokens`, the SavedModel's
        hypothesis tokens/s (`saved_model_{greedy,beam}_hyp_tokens_per_s`, `</s>` included),
        target tokens/s, the ratios the targets are stated in, `step_floor_ms`, and the
        precision used (`auto` resolved).
    """
    from keras_s2s.data.corpus import iter_lines
    from keras_s2s.export.saved_model import export_saved_model

    texts = [line for _, line in zip(range(limit), iter_lines(src_path))]
    warmup = texts[:batch_size]
    decode = replace(runs.load_config(model_dirs[0]).decode, precision=precision)
    translator = runs.load_translator(model_dirs, decode)
    drivers = {"in_graph": Driver(TranslatorBackend(translator), batch_size),
               "eager": Driver(EagerSearch(translator), batch_size),
               "saved_model": Driver(SavedModelBackend(
                   export_saved_model(translator, export_dir, "bench")), batch_size)}

    def rate(driver: str, beam: int, sentences: list[str]) -> tuple[float, list[str]]:
        return sentences_per_s(lambda t: drivers[driver].translate(t, beam)[0], sentences,
                               warmup[:2] if driver == "eager" else warmup)

    greedy, greedy_out = rate("in_graph", 1, texts)
    in_graph, beam_out = rate("in_graph", beam_size, texts)
    # The eager loop is slow: it gets two batches only, and so does the ratio's in-graph side.
    eager, _ = rate("eager", beam_size, texts[:2 * batch_size])
    in_graph_same, _ = rate("in_graph", beam_size, texts[:2 * batch_size])
    saved_greedy, saved_greedy_out = rate("saved_model", 1, texts)
    saved_beam, saved_beam_out = rate("saved_model", beam_size, texts)
    sampling = SampleOptions(num_samples=1, temperature=1.0, seed=1)
    sample, _ = sentences_per_s(lambda t: [h[0].text for h in drivers["in_graph"].sample(
        t, sampling)], texts, warmup)

    def tokens(outputs):  # target tokens per hypothesis, </s> included
        lengths = translator.tgt_tokenizer.tokenize(tf.constant(outputs)).row_lengths()
        return float(tf.reduce_mean(tf.cast(lengths, tf.float32))) + 1.0

    mean_beam, mean_greedy = tokens(beam_out), tokens(greedy_out)
    return {
        "sentences": len(texts), "beam_size": beam_size, "batch_size": batch_size,
        "precision": choose_precision(precision).precision,
        "greedy_sent_per_s": round(greedy, 2), "beam_sent_per_s": round(in_graph, 2),
        "eager_beam_sent_per_s": round(eager, 3),
        "saved_model_greedy_sent_per_s": round(saved_greedy, 2),
        "saved_model_beam_sent_per_s": round(saved_beam, 2),
        "sample_sent_per_s": round(sample, 2),  # one sample per sentence, temperature 1
        "greedy_tgt_tokens_per_s": round(greedy * mean_greedy, 1),
        "beam_tgt_tokens_per_s": round(in_graph * mean_beam, 1),
        # hypothesis tokens/s of the exported model, to set beside a peer's exported model
        "saved_model_greedy_hyp_tokens_per_s": round(saved_greedy * tokens(saved_greedy_out), 1),
        "saved_model_beam_hyp_tokens_per_s": round(saved_beam * tokens(saved_beam_out), 1),
        "mean_hyp_tokens": round(mean_beam, 2), "mean_greedy_hyp_tokens": round(mean_greedy, 2),
        "beam_cost_vs_greedy": round(greedy / in_graph, 2),
        "in_graph_speedup_vs_eager": round(in_graph_same / eager, 1),
        "step_floor_ms": round(step_floor_ms(translator, warmup, beam_size), 2),
        "host": host_info(),
    }
