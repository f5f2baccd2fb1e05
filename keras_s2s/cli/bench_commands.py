"""`keras-s2s bench train | decode | tflite | serve`: benchmarks that print JSON figures."""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import get_args

from keras_s2s.cli.decode_commands import refuse_search_flags
from keras_s2s.cli.export_commands import max_src_len_flag
from keras_s2s.cli.parser import (
    command,
    corpus_batches_flags,
    positive_int,
    resolve_config,
    search_flags,
    served_model_flags,
)
from keras_s2s.config import Precision


def cmd_bench_train(args: argparse.Namespace) -> dict:
    """One configuration, or several measured one after another in this run (`--precision
    P [P ...]`, `--compare KEY=VALUE [...]`), with each one's speed-up against the first."""
    from keras_s2s.bench.train import bench_train

    variants = [(p, {"train": {"precision": p}}) for p in args.precision or []]
    variants += [(text, _settings(text)) for text in args.compare or []]
    configs = [(name, resolve_config(args, (override,)))  # checked before any measurement
               for name, override in variants or [(None, {})]]
    replicas = sorted({str(cfg.train.cpu_replicas) for _, cfg in configs})
    if len(replicas) > 1:
        raise ValueError(f"train.cpu_replicas splits this process's CPU once, before the "
                         f"first measurement; received: {', '.join(replicas)} in one run. "
                         "Measure each value in its own run.")
    results = {}
    for name, cfg in configs:
        with tempfile.TemporaryDirectory() as scratch:
            results[name] = bench_train(cfg, args.model_dir or scratch, args.steps, args.warmup,
                                        args.dump_batches, _profile_dir(args.profile, name))
    if len(results) == 1:
        return next(iter(results.values()))
    first, *others = results
    speedups = {f"{p}_speedup_vs_{first}": round(results[p]["tgt_tokens_per_s"]
                                                 / results[first]["tgt_tokens_per_s"], 3)
                for p in others}
    return {**results, **speedups}


def _profile_dir(profile: str | None, variant: str | None) -> str | None:
    """`--profile DIR` for one variant: DIR itself, or a folder of DIR named after it."""
    if not profile or variant is None:
        return profile
    return str(Path(profile) / re.sub(r"[^\w.=-]+", "_", variant))


def cmd_bench_decode(args: argparse.Namespace) -> dict:
    from keras_s2s.bench.decode import bench_decode

    refuse_search_flags(args, "the benchmark decodes with the run's own search settings")
    with tempfile.TemporaryDirectory() as scratch:
        return bench_decode(args.model_dir, args.src, args.beam_size or 5, args.batch_size,
                            args.limit, scratch, args.precision or "fp32")


def cmd_bench_tflite(args: argparse.Namespace) -> dict:
    from keras_s2s import runs
    from keras_s2s.bench.tflite import bench_tflite

    refuse_search_flags(args, "the benchmark decodes with the run's own search settings")
    runs.check_tflite_precision(args.precision)
    with tempfile.TemporaryDirectory() as scratch:
        return bench_tflite(args.model_dir[0], args.src, args.ref, args.beam_size or 5,
                            args.max_src_len, args.limit, scratch)


def cmd_bench_serve(args: argparse.Namespace) -> dict:
    from keras_s2s.bench.serve import bench_serve

    return bench_serve(args.base, args.name, args.clients, args.requests, args.src)


def readable(figures: dict, prefix: str = "") -> str:
    """The figures as `key: value` lines, nested keys joined by dots (`host.cpu_model`); a
    long list is summarised (`--json` prints it whole)."""
    lines = []
    for key, value in figures.items():
        if isinstance(value, dict):
            lines.append(readable(value, f"{prefix}{key}."))
            continue
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        if isinstance(value, list) and len(text) > 100:
            text = f"{len(value)} entries (--json prints them)"
        lines.append(f"{prefix}{key}: {text}")
    return "\n".join(lines)


def _settings(text: str) -> dict:
    """One `--compare` configuration: `KEY=VALUE`, or several joined by commas
    (`model.attention=general,model.input_feeding=true`)."""
    from keras_s2s.config import deep_update, parse_override

    merged: dict = {}
    for part in re.split(r",(?=[a-z_]+\.[a-z_]+=)", text):
        merged = deep_update(merged, parse_override(part))
    return merged


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks printing JSON figures").add_subparsers(
        dest="bench", required=True)
    p = command(bench, "train", "training speed: tokens/s, GFLOP/s, MFU, memory",
                cmd_bench_train)
    corpus_batches_flags(p)
    p.add_argument("--steps", type=positive_int, default=50, help="timed training steps")
    p.add_argument("--warmup", type=positive_int, default=10,
                   help="untimed steps first (tracing)")
    p.add_argument("--dump-batches", metavar="FILE.npz",
                   help="also write the batches and the model's sizes for a peer toolkit's "
                        "script (benchmarks/peers/)")
    p.add_argument("--profile", metavar="DIR",
                   help="run the TF profiler over the timed steps: the trace goes to DIR "
                        "(TensorBoard's profile plugin reads it) and the figures list the time "
                        "per op type (timed with the profiler on)")
    p.add_argument("--precision", choices=get_args(Precision), nargs="+",
                   help="one precision, or several measured one after another in this run "
                        "(e.g. fp32 bf16: each one's figures and the speed-ups vs the first)")
    p.add_argument("--compare", nargs="+", metavar="KEY=VALUE",
                   help="configurations measured one after another in this run, each one "
                        "setting (or comma-joined settings) applied on top of the rest "
                        "(e.g. model.attention=none model.attention=general "
                        "model.attention=general,model.input_feeding=true)")

    p = command(bench, "decode", "greedy/beam sentences/s: in-graph, SavedModel, eager",
                cmd_bench_decode)
    search_flags(p, required=True)
    p.add_argument("--src", required=True, help="source sentences to translate")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--limit", type=positive_int, default=256,
                   help="sentences to use from --src")

    p = command(bench, "tflite", "TFLite fp32/int8/fp16: size, sentences/s, BLEU",
                cmd_bench_tflite)
    search_flags(p, required=True)
    max_src_len_flag(p)
    p.add_argument("--src", required=True, help="source sentences")
    p.add_argument("--ref", required=True, help="reference translations")
    p.add_argument("--limit", type=positive_int, default=1000, help="sentences to use")

    p = command(bench, "serve", "latency and throughput of the local server over gRPC",
                cmd_bench_serve)
    served_model_flags(p)
    p.add_argument("--clients", type=positive_int, default=16)
    p.add_argument("--requests", type=positive_int, default=1000)
    p.add_argument("--src", help="sentences to send (default: a few built-in ones)")
