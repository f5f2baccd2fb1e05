"""`keras-s2s bench train`: target tokens/s, useful FLOPs, MFU against measured matmul peaks."""

from __future__ import annotations

import resource
import time
from typing import Callable

import keras
import tensorflow as tf

from keras_s2s import runs
from keras_s2s.config import Config, ModelConfig
from keras_s2s.constants import (
    BOS_ID,
    INPUT_BEAM_SIZE,
    INPUT_N_BEST,
    INPUT_TEXT,
    OUTPUT_LOG_PROBS,
    OUTPUT_SCORES,
    OUTPUT_TRANSLATIONS,
    SIG_TRANSLATE_NBEST,
    SOURCE,
)
from keras_s2s.data.pipeline import dataset_from_corpus, make_dataset
from keras_s2s.driver import Driver, SavedModelBackend, TranslatorBackend
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train import trainer
from keras_s2s.train.distribute import make_strategy, precision_scope


def matmul_peak_gflops(dtype: tf.DType, size: int = 2048, repeats: int = 20) -> float:
    """Best-of-3 GFLOP/s of square matmuls in `dtype` (chained, so none is skipped)."""
    a = tf.random.uniform([size, size], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)

    @tf.function
    def chain(x):
        for _ in tf.range(repeats):
            x = tf.matmul(x, b) * tf.cast(1e-3, dtype)
        return x

    chain(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chain(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 * repeats / best / 1e9


def flops_per_tgt_token(model: ModelConfig, tgt_vocab: int, src_tokens: int,
                        tgt_tokens: int) -> float:
    """Useful training FLOPs per target token (forward + backward = 3 × forward).

    `3 × (src_tokens × Σ_l 8H(in_l + H) + tgt_tokens × (Σ_l 8H(in_l + H) + 2HV)) / tgt_tokens`
    with `in_l = E` for the first layer and `H` above it.
    """
    h, e = model.hidden_dim, model.embedding_dim
    lstm = sum(8 * h * ((e if layer == 0 else h) + h) for layer in range(model.num_layers))
    total = 3 * (src_tokens * lstm + tgt_tokens * (lstm + 2 * h * tgt_vocab))
    return total / tgt_tokens


class _StepTimer(keras.callbacks.Callback):
    """Wall time of the batches after `warmup` (tracing and the first steps excluded)."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end = time.perf_counter()


def bench_train(cfg: Config, model_dir: str, steps: int, warmup: int = 10) -> dict:
    """Trains `warmup + steps` batches of the configured corpus and measures the last `steps`.

    Returns:
        JSON-ready figures: `tgt_tokens_per_s`, `flops_per_tgt_token`, `gflops`,
        `peak_fp32_gflops`, `peak_bf16_gflops`, `mfu`, `padding_fraction`, `peak_rss_mb`, ….
    """
    train_corpus, _ = runs.corpora(cfg)
    runs.build_vocabularies(cfg, train_corpus, model_dir)
    src_tok, tgt_tok = runs.load_tokenizers(cfg, model_dir)
    batches = make_dataset(dataset_from_corpus(train_corpus), src_tok, tgt_tok, cfg.data,
                           cfg.train.batch_size, shuffle=True, seed=cfg.seed)
    batches = batches.repeat().take(warmup + steps).cache()
    timed = list(batches.skip(warmup))  # fills the cache: input work is not timed
    src_tokens = sum(int(tf.math.count_nonzero(x[SOURCE])) for x, _ in timed)
    tgt_tokens = sum(int(tf.math.count_nonzero(y)) for _, y in timed)
    slots = sum(int(tf.size(x[SOURCE])) + int(tf.size(y)) for x, y in timed)
    peaks = {"fp32": matmul_peak_gflops(tf.float32), "bf16": matmul_peak_gflops(tf.bfloat16)}
    with make_strategy(cfg.train.strategy).scope(), precision_scope(cfg.train.precision):
        model = build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size)
        trainer.compile_model(model, cfg.train)
    timer = _StepTimer(warmup)
    model.fit(batches, epochs=1, callbacks=[timer], verbose=0)
    seconds = timer.end - timer.start
    per_token = flops_per_tgt_token(cfg.model, tgt_tok.vocab_size, src_tokens, tgt_tokens)
    gflops = per_token * tgt_tokens / seconds / 1e9
    peak = peaks["fp32" if cfg.train.precision == "fp32" else "bf16"]
    return {
        "precision": cfg.train.precision, "steps": steps, "batch_size": cfg.train.batch_size,
        "seconds": round(seconds, 2), "tgt_tokens_per_s": round(tgt_tokens / seconds, 1),
        "flops_per_tgt_token": round(per_token), "gflops": round(gflops, 1),
        "peak_fp32_gflops": round(peaks["fp32"], 1), "peak_bf16_gflops": round(peaks["bf16"], 1),
        "mfu": round(gflops / peak, 3),
        "padding_fraction": round(1 - (src_tokens + tgt_tokens) / slots, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


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
        words, scores, log_probs = self.translator.search(
            tf.constant(inputs[INPUT_TEXT]), tf.constant(inputs[INPUT_BEAM_SIZE]),
            tf.constant(inputs[INPUT_N_BEST]))
        return {OUTPUT_TRANSLATIONS: words.numpy(), OUTPUT_SCORES: scores.numpy(),
                OUTPUT_LOG_PROBS: log_probs.numpy()}


def step_floor_ms(translator, texts: list[str], beam_size: int, repeats: int = 30) -> float:
    """Milliseconds of one compiled decoder step over `len(texts) × beam_size` rows.

    Every search step pays this arithmetic (embedding, LSTM cells, the `[rows, H] @ [H, V]`
    projection, log-softmax), in graph or eagerly; only the search logic around it differs.
    """
    states = translator.encoder_states(tf.constant(texts))
    states = tuple(tf.repeat(s, beam_size, axis=0) for s in states)  # [b * beam, H] each
    tokens = tf.fill([beam_size * len(texts)], BOS_ID)
    step = tf.function(translator.step)
    step(tokens, states)[0].numpy()  # trace
    start = time.perf_counter()
    for _ in range(repeats):
        log_probs, _ = step(tokens, states)
    log_probs.numpy()
    return (time.perf_counter() - start) / repeats * 1000


def bench_decode(model_dirs: list[str], src_path: str, beam_size: int, batch_size: int,
                 limit: int, export_dir: str) -> dict:
    """Greedy and beam decoding speed: in-graph, from the exported SavedModel, and eager,
    each through a `Driver` (length-sorted batches of `batch_size`).

    Returns:
        `greedy_sent_per_s`, `beam_sent_per_s`, `eager_beam_sent_per_s`,
        `saved_model_greedy_sent_per_s`, `saved_model_beam_sent_per_s`, `mean_hyp_tokens`,
        target tokens/s, the ratios the targets are stated in, and `step_floor_ms`.
    """
    from keras_s2s.data.corpus import iter_lines
    from keras_s2s.export.saved_model import export_saved_model

    texts = [line for _, line in zip(range(limit), iter_lines(src_path))]
    warmup = texts[:batch_size]
    translator = runs.load_translator(model_dirs)
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
    saved_greedy, _ = rate("saved_model", 1, texts)
    saved_beam, _ = rate("saved_model", beam_size, texts)

    def tokens(outputs):  # target tokens per hypothesis, </s> included
        lengths = translator.tgt_tokenizer.tokenize(tf.constant(outputs)).row_lengths()
        return float(tf.reduce_mean(tf.cast(lengths, tf.float32))) + 1.0

    mean_beam, mean_greedy = tokens(beam_out), tokens(greedy_out)
    return {
        "sentences": len(texts), "beam_size": beam_size, "batch_size": batch_size,
        "greedy_sent_per_s": round(greedy, 2), "beam_sent_per_s": round(in_graph, 2),
        "eager_beam_sent_per_s": round(eager, 3),
        "saved_model_greedy_sent_per_s": round(saved_greedy, 2),
        "saved_model_beam_sent_per_s": round(saved_beam, 2),
        "greedy_tgt_tokens_per_s": round(greedy * mean_greedy, 1),
        "beam_tgt_tokens_per_s": round(in_graph * mean_beam, 1),
        "mean_hyp_tokens": round(mean_beam, 2), "mean_greedy_hyp_tokens": round(mean_greedy, 2),
        "beam_cost_vs_greedy": round(greedy / in_graph, 2),
        "in_graph_speedup_vs_eager": round(in_graph_same / eager, 1),
        "step_floor_ms": round(step_floor_ms(translator, warmup, beam_size), 2),
    }
