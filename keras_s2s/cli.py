"""The `keras-s2s` command: the one place that wires config, data, model, training and export."""

from __future__ import annotations

import argparse
import json
import os
import sys

from keras_s2s import commands, commands_eval  # light: TF is imported inside each command
from keras_s2s.driver import BackendError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter quiet


def _config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help="named preset: default, demo, tiny, small, paper")
    parser.add_argument("--config", help="YAML config file (sections data/model/train/decode)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set model.hidden_dim=128")
    parser.add_argument("--epochs", type=int, help="shortcut for --set train.epochs=N")
    parser.add_argument("--seed", type=int, help="shortcut for --set seed=N")


def _io_flags(parser: argparse.ArgumentParser, model_dir_required: bool = False) -> None:
    parser.add_argument("--model-dir", required=model_dir_required,
                        help="run directory (config, vocabularies, weights, logs)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures last")


def _data_flags(parser: argparse.ArgumentParser, valid: bool = True) -> None:
    """Corpus flags; each is the same as setting its `data.*` config key."""
    for flag in ("src", "tgt") + (("valid-src", "valid-tgt") if valid else ()):
        parser.add_argument(f"--{flag}", help="one sentence per line, UTF-8, .gz accepted")
    parser.add_argument("--tsv", help="a two-column TSV of pairs (instead of --src/--tgt)")
    parser.add_argument("--tfds", help="a TFDS set, e.g. wmt14_translate/fr-en:train")
    if valid:
        parser.add_argument("--valid-tsv")
        parser.add_argument("--valid-tfds")
    parser.add_argument("--on-bad-line", choices=("error", "skip"),
                        help="invalid UTF-8 or malformed lines: stop (default) or skip and count")
    parser.add_argument("--reverse-source", action=argparse.BooleanOptionalAction,
                        help="feed the source backwards (the paper's trick; on by default)")


def _served_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="export base folder (holds NAME/VERSION)")
    parser.add_argument("--name", default="keras_s2s", help="the served model's name")
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures last")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (refused before any model is loaded)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; received: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; received: {value}")
    return value


def _decode_flags(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--model-dir", nargs="+", required=required,
                        help="run directory; several = an ensemble (log-probs averaged)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures last")
    parser.add_argument("--beam-size", type=positive_int, help="beam width (default: the "
                        "run's decode.beam_size); 1 = greedy")
    parser.add_argument("--length-penalty", type=float, help="GNMT alpha (0 = the paper)")


def _backend_flags(parser: argparse.ArgumentParser, batch_size: int = 64) -> None:
    """The model to decode with, one of three back ends, and how to batch."""
    _decode_flags(parser)
    parser.add_argument("--saved-model", help="an exported SavedModel (version folder or base)")
    parser.add_argument("--server", metavar="HOST:PORT", help="TF Serving's gRPC address")
    parser.add_argument("--model-name", default="keras_s2s", help="the served model's name")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help="sentences per call, in length-sorted batches")


def _tflite_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-src-len", type=int, default=50,
                        help="fixed source width in tokens (longer input: an error, or cut)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-s2s", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (the built-in task unless a corpus is given)")
    _config_flags(p)
    _io_flags(p, model_dir_required=True)
    _data_flags(p)
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser("vocab", help="build the vocabularies of a corpus into --model-dir")
    _config_flags(p)
    _io_flags(p, model_dir_required=True)
    _data_flags(p, valid=False)
    p.set_defaults(func=commands.cmd_vocab)

    p = sub.add_parser("data-stats", help="pairs, skipped lines, padding with/without bucketing")
    _config_flags(p)
    _io_flags(p)
    _data_flags(p, valid=False)
    p.add_argument("--batch-size", type=int, help="sentences per batch (train.batch_size)")
    p.set_defaults(func=commands.cmd_data_stats)

    for name, func, text in (("translate", commands.cmd_translate, "translate stdin (or --input)"),
                             ("evaluate", commands_eval.cmd_evaluate,
                              "BLEU (detokenized, tokenized), chrF, perplexity")):
        p = sub.add_parser(name, help=text)
        _config_flags(p)
        _backend_flags(p)
        if name == "translate":
            p.add_argument("--input", help="read sentences from this file instead of stdin")
            p.add_argument("--n-best", type=positive_int, help="print N hypotheses per "
                           "sentence (Moses format 'i ||| hypothesis ||| score')")
        else:
            p.add_argument("--src", help="source sentences (default: the built-in test split)")
            p.add_argument("--ref", help="reference translations, line-aligned with --src")
        p.set_defaults(func=func)

    p = sub.add_parser("score", help="log p(target | source) of given sentence pairs")
    _backend_flags(p)
    p.add_argument("--src", required=True)
    p.add_argument("--tgt", required=True)
    p.set_defaults(func=commands_eval.cmd_score)

    p = sub.add_parser("rescore", help="re-rank a Moses n-best list with the model (paper §3.3)")
    _backend_flags(p)
    p.add_argument("--src", required=True, help="the source sentences")
    p.add_argument("--nbest", required=True, help="'i ||| hypothesis ||| score' lines")
    p.add_argument("--weight", type=float, default=0.5, help="share of the n-best's own score")
    p.set_defaults(func=commands_eval.cmd_rescore)

    p = sub.add_parser("export", help="write a SavedModel in TF Serving's BASE/NAME/VERSION")
    _decode_flags(p, required=True)
    p.add_argument("--base", help="export base folder (default: MODEL_DIR/export)")
    p.add_argument("--name", default="keras_s2s", help="model name under the base")
    p.add_argument("--version", type=int, help="version number (default: the next free one)")
    p.set_defaults(func=commands.cmd_export)

    p = sub.add_parser("export-tflite", help="a builtins-only .tflite (greedy + beam) for apps")
    _decode_flags(p, required=True)
    _tflite_flags(p)
    p.add_argument("--out", required=True, help="the .tflite file (vocabularies + .json beside)")
    p.add_argument("--quantize", choices=("none", "dynamic", "float16"), default="none",
                   help="post-training quantization: dynamic-range int8 weights, or float16")
    p.add_argument("--tflite-batch", type=int, default=1, help="sentences per call (fixed)")
    p.set_defaults(func=commands.cmd_export_tflite)

    p = sub.add_parser("serve", help="development/test stand-in for TF Serving (gRPC + REST)")
    _served_model_flags(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--rest-port", type=int, default=8501)
    p.add_argument("--max-batch-size", type=int, default=64, help="1 disables batching")
    p.set_defaults(func=commands.cmd_serve)

    p = sub.add_parser("experiment", help="the paper's studies: reverse, beam, rescore, length, "
                       "pca (or all); trains what they need")
    p.add_argument("study", choices=("reverse", "beam", "rescore", "length", "pca", "all"))
    _config_flags(p)
    _io_flags(p, model_dir_required=True)
    p.add_argument("--src", help="test sources (default: the config's data.test_src, else the "
                   "built-in test split)")
    p.add_argument("--ref", help="test references, line-aligned with --src")
    p.add_argument("--limit", type=int, help="use the first N test sentences")
    p.add_argument("--beam-size", type=int, help="beam of single-beam figures (default 5)")
    p.add_argument("--members", type=int, default=5, help="ensemble size (seeds 0..N-1)")
    p.add_argument("--beams", default="1,2,5,12", help="beam sizes of the beam study")
    p.set_defaults(func=commands_eval.cmd_experiment)

    p = sub.add_parser("info", help="parameter counts of a preset/config (built, not trained)")
    _config_flags(p)
    _io_flags(p)
    p.set_defaults(func=commands.cmd_info)

    bench = sub.add_parser("bench", help="benchmarks printing JSON figures").add_subparsers(
        dest="bench", required=True)
    p = bench.add_parser("train", help="training speed: tokens/s, GFLOP/s, MFU, memory")
    _config_flags(p)
    _io_flags(p)
    _data_flags(p, valid=False)
    p.add_argument("--steps", type=int, default=50, help="timed training steps")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), nargs="+",
                   help="one precision, or several measured one after another in this run "
                        "(e.g. fp32 bf16: each one's figures and the speed-ups vs the first)")
    p.add_argument("--batch-size", type=int)
    p.set_defaults(func=commands.cmd_bench_train)

    p = bench.add_parser("decode", help="greedy/beam sentences/s: in-graph, SavedModel, eager")
    _decode_flags(p, required=True)
    p.add_argument("--src", required=True, help="source sentences to translate")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--limit", type=int, default=256, help="sentences to use from --src")
    p.set_defaults(func=commands.cmd_bench_decode)

    p = bench.add_parser("tflite", help="TFLite fp32/int8/fp16: size, sentences/s, BLEU")
    _decode_flags(p, required=True)
    _tflite_flags(p)
    p.add_argument("--src", required=True, help="source sentences")
    p.add_argument("--ref", required=True, help="reference translations")
    p.add_argument("--limit", type=int, default=1000, help="sentences to use")
    p.set_defaults(func=commands.cmd_bench_tflite)

    p = bench.add_parser("serve", help="latency and throughput of the local server over gRPC")
    _served_model_flags(p)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--src", help="sentences to send (default: a few built-in ones)")
    p.set_defaults(func=commands.cmd_bench_serve)

    p = sub.add_parser("demo", help="built-in task: train, evaluate, export, reload, translate")
    _config_flags(p)
    _io_flags(p)
    p.set_defaults(func=commands.cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-s2s` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        figures = args.func(args)
    except (ValueError, OSError, FloatingPointError, BackendError) as err:
        print(f"keras-s2s {args.command}: error: {err}", file=sys.stderr)
        return 2
    if getattr(args, "json", False) or args.command == "demo":
        print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
