"""`keras-s2s bench train`: target tokens/s, useful FLOPs, MFU against measured matmul peaks."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_s2s import runs, training
from keras_s2s.bench.host import host_info
from keras_s2s.bench.profile import ProfileSteps, op_times, phase_times
from keras_s2s.config import Config, ModelConfig
from keras_s2s.constants import SOURCE, TARGET_IN
from keras_s2s.data.pipeline import dataset_from_corpus, make_dataset
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train import trainer
from keras_s2s.train.distribute import make_strategy, precision_scope, set_up_cpu_replicas
from keras_s2s.train.precision import NATIVE_BF16_CPU_FLAGS, choose_precision, cpu_flags, isa_cap


def matmul_peak_gflops(dtype: tf.DType, size: int = 2048, repeats: int = 20) -> float:
    """Best-of-3 GFLOP/s of square matmuls in `dtype` (chained, so none is skipped), with one
    chain per logical CPU device at once: with the CPU split between replicas
    (`train.cpu_replicas`), each chain runs on one thread and the peak is their sum."""
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    a = tf.random.uniform([size, size], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)

    @tf.function
    def chains(x):
        outputs = []
        for device in devices:
            with tf.device(device):
                y = x
                for _ in tf.range(repeats):
                    y = tf.matmul(y, b) * tf.cast(1e-3, dtype)
                outputs.append(y[0, 0])
        return tf.stack(outputs)

    chains(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chains(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 * repeats * len(devices) / best / 1e9


def flops_per_tgt_token(model: ModelConfig, tgt_vocab: int, src_tokens: int,
                        tgt_tokens: int, pairs: int = 0) -> float:
    """Useful training FLOPs per target token (forward + backward = 3 × forward).

    `3 × (src_tokens × Σ_l 8H(in_l + H) + tgt_tokens × (Σ_l 8H(in_l + H) + 2HV)
    + attention) / tgt_tokens` with `in_l = E` for the first layer (`E + H` for the decoder
    with input feeding; two LSTMs of H/2 for a bidirectional encoder) and `H` above it.

    Args:
        pairs: Σ over sentences of source length × target length (real tokens): the
            (target, source) position pairs attention scores and averages.
    """
    h, e = model.hidden_dim, model.embedding_dim
    above = sum(8 * h * (h + h) for _ in range(model.num_layers - 1))  # layers 1…
    # Layer 0: a bidirectional encoder runs two LSTMs of H/2; input feeding adds h̃ (H wide)
    # to the decoder's input.
    encoder = above + (2 * 8 * (h // 2) * (e + h // 2) if model.bidirectional_encoder
                       else 8 * h * (e + h))
    decoder = above + 8 * h * (e + (h if model.input_feeding else 0) + h)
    total = 3 * (src_tokens * encoder + tgt_tokens * (decoder + 2 * h * tgt_vocab)
                 + attention_flops(model, src_tokens, tgt_tokens, pairs))
    return total / tgt_tokens


def attention_flops(model: ModelConfig, src_tokens: int, tgt_tokens: int, pairs: int) -> int:
    """Forward FLOPs of Luong attention: per (target, source) pair a score and a weighted
    sum (4H; `concat` 6H), per target token `W_c [c; h]` (4H²) and the query projection of
    `general`/`concat` (2H²), per source token the memory projection of `concat` (2H²)."""
    if model.attention == "none":
        return 0
    h = model.hidden_dim
    per_pair = 6 * h if model.attention == "concat" else 4 * h
    per_target = 4 * h * h + (2 * h * h if model.attention != "dot" else 0)
    per_source = 2 * h * h if model.attention == "concat" else 0
    return pairs * per_pair + tgt_tokens * per_target + src_tokens * per_source


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


def dump_batches(path: str, batches: list, meta: dict) -> None:
    """Writes the benchmark's batches (`src_i`, `tgt_in_i`, `tgt_out_i` int32 arrays, warm-up
    first) and `meta` (JSON: sizes, recipe, FLOPs per target token) to an `.npz`, so a peer
    toolkit's script trains on exactly these batches (`benchmarks/peers/`)."""
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, (x, y) in enumerate(batches):
        arrays.update({f"src_{i}": x[SOURCE].numpy(), f"tgt_in_{i}": x[TARGET_IN].numpy(),
                       f"tgt_out_{i}": y.numpy()})
    np.savez(path, **arrays)


def _token_counts(batches: list) -> tuple[int, int, int, int]:
    """Real source and target tokens, token slots (padding included) and the sum over pairs
    of `source length × target length` (for attention FLOPs) in `(x, y)` batches."""
    src_tokens = sum(int(tf.math.count_nonzero(x[SOURCE])) for x, _ in batches)
    tgt_tokens = sum(int(tf.math.count_nonzero(y)) for _, y in batches)
    slots = sum(int(tf.size(x[SOURCE])) + int(tf.size(y)) for x, y in batches)
    pairs = sum(int(tf.reduce_sum(tf.math.count_nonzero(x[SOURCE], axis=1)
                                  * tf.math.count_nonzero(y, axis=1))) for x, y in batches)
    return src_tokens, tgt_tokens, slots, pairs


def _bf16_runs(precision: str) -> bool:
    """Whether TF's bf16 kernels run here. Under an `ONEDNN_MAX_CPU_ISA` cap below AVX-512 on
    a host without native bf16 left, TF's oneDNN bf16 matmul aborts the process: a bf16 or
    fp16 run is refused up front, and no bf16 peak is measured."""
    runs_here = bool(set(NATIVE_BF16_CPU_FLAGS) & cpu_flags()) or not isa_cap()
    if precision != "fp32" and not runs_here:
        raise ValueError(f"train.precision {precision} cannot run under "
                         f"ONEDNN_MAX_CPU_ISA={isa_cap()}: TensorFlow's oneDNN kernels for it "
                         "need AVX-512. Measure fp32 (--precision fp32), or unset the cap.")
    return runs_here


def bench_train(cfg: Config, model_dir: str, steps: int, warmup: int = 10,
                dump: str | None = None, profile: str | None = None) -> dict:
    """Trains `warmup + steps` batches of the configured corpus and measures the last `steps`.

    `dump` names an `.npz` that receives the batches for a peer toolkit (`dump_batches`).
    `profile` names a directory for the TF profiler's trace of the timed steps; the figures
    then hold `profile_ops` (time per op type, `bench.profile.op_times`) and `profile_phases`
    (wall time by the parts of the step running at once, `phase_times`), and were timed with
    the profiler on.

    Returns:
        JSON-ready figures: `tgt_tokens_per_s`, `flops_per_tgt_token`, `gflops`,
        `peak_fp32_gflops`, `peak_bf16_gflops`, `mfu`, `padding_fraction`, `peak_rss_mb`, ….
    """
    replicas = set_up_cpu_replicas(cfg.train)  # before any op
    strategy = make_strategy(cfg.train.strategy)
    choice = choose_precision(cfg.train.precision)
    bf16_runs = _bf16_runs(choice.precision)
    train_corpus, _ = training.corpora(cfg)
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    runs.build_vocabularies(cfg, train_corpus, model_dir)
    src_tok, tgt_tok = runs.load_tokenizers(cfg, model_dir)
    batches = make_dataset(dataset_from_corpus(train_corpus), src_tok, tgt_tok, cfg.data,
                           cfg.train.batch_size, shuffle=True, seed=cfg.seed)
    batches = batches.repeat().take(warmup + steps).cache()
    timed = list(batches.skip(warmup))  # fills the cache: input work is not timed
    src_tokens, tgt_tokens, slots, pairs = _token_counts(timed)
    peaks = {"fp32": matmul_peak_gflops(tf.float32),
             "bf16": matmul_peak_gflops(tf.bfloat16) if bf16_runs else float("nan")}
    with strategy.scope(), precision_scope(cfg.train.precision):
        model = build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size)
        trainer.compile_model(model, cfg.train)
    timer = _StepTimer(warmup)
    callbacks = [timer] + ([ProfileSteps(profile, warmup)] if profile else [])
    model.fit(batches, epochs=1, callbacks=callbacks, verbose=0, shuffle=False)
    seconds = timer.end - timer.start
    per_token = flops_per_tgt_token(cfg.model, tgt_tok.vocab_size, src_tokens, tgt_tokens,
                                    pairs)
    gflops = per_token * tgt_tokens / seconds / 1e9
    if dump:
        dump_batches(dump, list(batches), {
            "warmup": warmup, "steps": steps, "src_vocab": src_tok.vocab_size,
            "tgt_vocab": tgt_tok.vocab_size, "embedding_dim": cfg.model.embedding_dim,
            "hidden_dim": cfg.model.hidden_dim, "num_layers": cfg.model.num_layers,
            "optimizer": cfg.train.optimizer, "learning_rate": cfg.train.learning_rate,
            "clip_norm": cfg.train.clip_norm, "flops_per_tgt_token": per_token,
            "timed_tgt_tokens": tgt_tokens, "reverse_source_in_batches": True})
    peak = peaks["fp32" if choice.precision == "fp32" else "bf16"]
    return {
        "precision": choice.precision, "precision_requested": cfg.train.precision,
        "precision_reason": choice.reason, "attention": cfg.model.attention,
        "input_feeding": cfg.model.input_feeding, "steps": steps,
        "batch_size": cfg.train.batch_size, "replicas": strategy.num_replicas_in_sync,
        "replicas_requested": cfg.train.cpu_replicas, "replicas_reason": replicas.reason,
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
        "seconds": round(seconds, 2), "tgt_tokens_per_s": round(tgt_tokens / seconds, 1),
        "flops_per_tgt_token": round(per_token), "gflops": round(gflops, 1),
        "peak_fp32_gflops": round(peaks["fp32"], 1),
        "peak_bf16_gflops": round(peaks["bf16"], 1) if bf16_runs else None,
        "mfu": round(gflops / peak, 3),
        "padding_fraction": round(1 - (src_tokens + tgt_tokens) / slots, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "host": host_info(),
        **({"profile_dir": profile, "profile_ops": op_times(profile, steps),
            "profile_phases": phase_times(profile, steps)} if profile else {}),
    }
