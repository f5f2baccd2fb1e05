"""The `keras-s2s` command: the one place that wires config, data, model, training and export."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from keras_s2s.constants import DATA_REPORT_FILE

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter quiet

# Heavy modules (TensorFlow, the model) are imported inside the commands, so that
# `translate --saved-model` never imports `keras_s2s.model`.


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


DATA_FLAGS = {"src": "train_src", "tgt": "train_tgt", "tsv": "train_tsv", "tfds": "train_tfds",
              "valid_src": "valid_src", "valid_tgt": "valid_tgt", "valid_tsv": "valid_tsv",
              "valid_tfds": "valid_tfds", "on_bad_line": "on_bad_line",
              "reverse_source": "reverse_source"}


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


def _decode_flags(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--model-dir", nargs="+", required=required,
                        help="run directory; several = an ensemble (log-probs averaged)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures last")
    parser.add_argument("--beam-size", type=int, help="beam width (default: the run's decode."
                        "beam_size); 1 = greedy")
    parser.add_argument("--length-penalty", type=float, help="GNMT alpha (0 = the paper)")


def resolve_config(args: argparse.Namespace):
    """Defaults ← `--preset` ← `--config` ← `--set` ← `--epochs`, `--seed`, corpus flags.

    Without a preset or config file, the built-in task uses the `demo` preset and a given
    corpus uses the defaults.
    """
    from keras_s2s.config import resolve

    overrides: list = list(args.set)
    if args.epochs is not None:
        overrides.append({"train": {"epochs": args.epochs}})
    if args.seed is not None:
        overrides.append({"seed": args.seed})
    data = {key: getattr(args, flag) for flag, key in DATA_FLAGS.items()
            if getattr(args, flag, None) is not None}
    overrides.append({"data": data})
    has_corpus = any(key.startswith("train_") for key in data)
    preset = args.preset or (None if args.config or has_corpus else "demo")
    return resolve(preset, args.config, overrides)


def cmd_train(args: argparse.Namespace) -> dict:
    from keras_s2s import runs

    cfg = resolve_config(args)
    start = time.time()
    history = runs.train(cfg, args.model_dir)
    last = {key: round(float(values[-1]), 4) for key, values in history.items()}
    report = json.loads((Path(args.model_dir) / DATA_REPORT_FILE).read_text(encoding="utf-8"))
    return {"model_dir": args.model_dir, "train_pairs": report["train"]["pairs"],
            "seconds": round(time.time() - start, 1), **last}


def cmd_vocab(args: argparse.Namespace) -> dict:
    from keras_s2s import runs

    cfg = resolve_config(args)
    train_corpus, _ = runs.corpora(cfg)
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    report = train_corpus.scan().as_dict()
    runs.build_vocabularies(cfg, train_corpus, args.model_dir)
    src_tok, tgt_tok = runs.load_tokenizers(cfg, args.model_dir)
    print(f"wrote vocabularies to {args.model_dir}", file=sys.stderr)
    return {**report, "src_vocab_size": src_tok.vocab_size, "tgt_vocab_size": tgt_tok.vocab_size}


def cmd_data_stats(args: argparse.Namespace) -> dict:
    import tempfile

    from keras_s2s import runs

    if args.batch_size is not None:
        args.set.append(f"train.batch_size={args.batch_size}")
    cfg = resolve_config(args)
    with tempfile.TemporaryDirectory() as scratch:
        return runs.data_stats(cfg, args.model_dir or scratch)


def _read_input(path: str | None) -> list[str]:
    from keras_s2s.data.corpus import iter_lines

    if path:
        return list(iter_lines(path))
    lines = []
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError as err:
            raise ValueError(f"stdin, line {number}: invalid UTF-8 ({err.reason}); "
                             "send UTF-8 text.") from None
    return lines


def _decode_config(args: argparse.Namespace, base):
    """The run's decode settings with `--beam-size` / `--length-penalty` applied."""
    import dataclasses

    changes = {}
    if getattr(args, "beam_size", None) is not None:
        changes["beam_size"] = args.beam_size
    if getattr(args, "length_penalty", None) is not None:
        changes["length_penalty"] = args.length_penalty
    return dataclasses.replace(base, **changes)


def _load_translator(args: argparse.Namespace):
    """The Translator of one run directory or of an ensemble (several `--model-dir`)."""
    from keras_s2s import runs

    dirs = args.model_dir if isinstance(args.model_dir, list) else [args.model_dir]
    return runs.load_translator(dirs, _decode_config(args, runs.load_config(dirs[0]).decode))


def _translate_fn(args: argparse.Namespace):
    """The `text → {translation, log_prob}` function of a SavedModel or of run directories.

    The closures keep the loaded object alive: a `tf.function` holds its owner weakly.
    """
    if getattr(args, "server", None):
        return _server_fn(args)
    if args.saved_model:
        from keras_s2s.export.saved_model import load_saved_model

        loaded = load_saved_model(args.saved_model)
        return lambda text: loaded.signatures["serving_default"](text=text)
    if not args.model_dir:
        raise ValueError("Pass --saved-model DIR (an export) or --model-dir DIR (a run).")
    translator = _load_translator(args)
    return lambda text: translator.translate(text)


def _server_fn(args: argparse.Namespace):
    """`text → {translation, log_prob}` over gRPC to TF Serving (or the local server)."""
    from serving.client import predict

    host, _, port = args.server.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--server takes HOST:PORT; received: {args.server!r}.")

    def call(text):
        texts = [t.decode("utf-8") for t in text.numpy()]
        out = predict({"text": texts}, host, int(port), args.model_name)
        return {key: _as_tensor(value) for key, value in out.items()}
    return call


def _as_tensor(value):
    import tensorflow as tf

    return tf.constant(value)


def cmd_serve(args: argparse.Namespace) -> dict:
    from serving.server import serve

    serve(args.base, args.name, args.host, args.port, args.rest_port, args.max_batch_size)
    return {"stopped": True}


def cmd_bench_serve(args: argparse.Namespace) -> dict:
    from serving.bench import bench_serve

    return bench_serve(args.base, args.name, args.clients, args.requests, args.src)


def cmd_translate(args: argparse.Namespace) -> dict:
    from keras_s2s.decode.translator import translate_all

    n_best = args.n_best or 1
    if n_best > 1:
        if args.saved_model:
            raise ValueError("--n-best works with --model-dir; the SavedModel's n-best is its "
                             "translate_nbest signature.")
        translator = _load_translator(args)
        beam = max(n_best, args.beam_size or translator._decode.beam_size)
    else:
        translate_fn = _translate_fn(args)  # fails fast, before waiting on stdin
    texts = _read_input(args.input)
    start = time.time()
    if n_best > 1:
        for i in range(0, len(texts), args.batch_size):
            out = translator.translate_nbest(tf_strings(texts[i:i + args.batch_size]), beam,
                                             n_best)
            for j, (hyps, scores) in enumerate(zip(out["translations"].numpy(),
                                                   out["scores"].numpy())):
                for hyp, score in zip(hyps, scores):  # Moses n-best format
                    print(f"{i + j} ||| {hyp.decode('utf-8')} ||| {score:.4f}")
    else:
        translations, _ = translate_all(translate_fn, texts, args.batch_size)
        for line in translations:
            print(line)
    return {"sentences": len(texts), "seconds": round(time.time() - start, 2)}


def tf_strings(texts: list[str]):
    import tensorflow as tf

    return tf.constant(texts, dtype=tf.string)


def cmd_score(args: argparse.Namespace) -> dict:
    from keras_s2s.data.corpus import read_parallel

    translator = _load_translator(args)
    pairs = read_parallel(args.src, args.tgt)
    total = 0.0
    for i in range(0, len(pairs), args.batch_size):
        chunk = pairs[i:i + args.batch_size]
        out = translator.score(tf_strings([s for s, _ in chunk]), tf_strings([t for _, t in chunk]))
        for value in out["log_prob"].numpy():
            print(f"{value:.4f}")
            total += float(value)
    return {"sentences": len(pairs), "total_log_prob": round(total, 4)}


def read_nbest(path: str) -> list[list[tuple[str, float]]]:
    """Moses n-best lines `i ||| hypothesis ||| score` → per sentence `(hypothesis, score)`."""
    from keras_s2s.data.corpus import iter_lines

    lists: list[list[tuple[str, float]]] = []
    for number, line in enumerate(iter_lines(path), start=1):
        fields = [f.strip() for f in line.split("|||")]
        try:
            index, hyp, score = int(fields[0]), fields[1], float(fields[-1])
        except (ValueError, IndexError):
            raise ValueError(f"{path}, line {number}: expected 'i ||| hypothesis ||| score'; "
                             f"received: {line!r}.") from None
        while len(lists) <= index:
            lists.append([])
        lists[index].append((hyp, score))
    return lists


def cmd_rescore(args: argparse.Namespace) -> dict:
    from keras_s2s.data.corpus import iter_lines
    from keras_s2s.decode.scoring import rescore

    translator = _load_translator(args)
    sources = list(iter_lines(args.src))
    candidates = read_nbest(args.nbest)
    if len(candidates) > len(sources):
        raise ValueError(f"{args.nbest} has n-best lists for {len(candidates)} sentences but "
                         f"{args.src} has {len(sources)} lines.")
    model_scores = []
    for source, hyps in zip(sources, candidates):
        out = translator.score(tf_strings([source] * len(hyps)), tf_strings([h for h, _ in hyps]))
        model_scores.append(out["log_prob"].numpy().tolist())
    for ranked in rescore(candidates, model_scores, args.weight):
        print(ranked[0][0] if ranked else "")
    return {"sentences": len(candidates)}


def cmd_evaluate(args: argparse.Namespace) -> dict:
    from keras_s2s.decode.translator import translate_all
    from keras_s2s.evaluation import corpus_scores, format_scores

    if args.src and args.ref:
        from keras_s2s.data.corpus import read_parallel

        pairs = read_parallel(args.src, args.ref)
    else:
        from keras_s2s import runs

        cfg = runs.load_config(args.model_dir[0]) if args.model_dir else resolve_config(args)
        pairs = runs.builtin_splits(cfg).test
    sources, refs = [s for s, _ in pairs], [t for _, t in pairs]
    hyps, _ = translate_all(_translate_fn(args), sources, args.batch_size)
    scores = corpus_scores(hyps, refs)
    print(format_scores(scores), file=sys.stderr)
    return {"sentences": len(pairs), **scores}


def cmd_export(args: argparse.Namespace) -> dict:
    from keras_s2s import runs
    from keras_s2s.export.saved_model import export_saved_model, write_server_configs

    base = args.base or str(Path(args.model_dir) / "export")
    path = export_saved_model(runs.load_translator(args.model_dir), base, args.name,
                              args.version)
    write_server_configs(base, args.name)
    print(f"exported {path} (and {base}/models.config, batching_parameters.txt)",
          file=sys.stderr)
    return {"export_dir": str(path)}


def cmd_info(args: argparse.Namespace) -> dict:
    from keras_s2s.model.seq2seq import build_seq2seq, parameter_counts

    cfg = resolve_config(args)
    model = build_seq2seq(cfg.model, cfg.data.src_vocab_size, cfg.data.tgt_vocab_size)
    counts = parameter_counts(model)
    for part, count in counts.items():
        print(f"{part:>18}: {count:,}", file=sys.stderr)
    return {"parameters": counts["total"], **{f"{k}_parameters": v for k, v in counts.items()
                                              if k != "total"}}


def cmd_bench_train(args: argparse.Namespace) -> dict:
    import tempfile

    from keras_s2s.bench import bench_train

    if args.precision:
        args.set.append(f"train.precision={args.precision}")
    if args.batch_size:
        args.set.append(f"train.batch_size={args.batch_size}")
    cfg = resolve_config(args)
    with tempfile.TemporaryDirectory() as scratch:
        return bench_train(cfg, args.model_dir or scratch, args.steps, args.warmup)


def cmd_bench_decode(args: argparse.Namespace) -> dict:
    import tempfile

    from keras_s2s.bench import bench_decode

    with tempfile.TemporaryDirectory() as scratch:
        return bench_decode(args.model_dir, args.src, args.beam_size or 5, args.batch_size,
                            args.limit, scratch)


def cmd_demo(args: argparse.Namespace) -> dict:
    from keras_s2s.demo import run_demo

    return run_demo(resolve_config(args), args.model_dir or "runs/demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-s2s", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (the built-in task unless a corpus is given)")
    _config_flags(p)
    _io_flags(p, model_dir_required=True)
    _data_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("vocab", help="build the vocabularies of a corpus into --model-dir")
    _config_flags(p)
    _io_flags(p, model_dir_required=True)
    _data_flags(p, valid=False)
    p.set_defaults(func=cmd_vocab)

    p = sub.add_parser("data-stats", help="pairs, skipped lines, padding with/without bucketing")
    _config_flags(p)
    _io_flags(p)
    _data_flags(p, valid=False)
    p.add_argument("--batch-size", type=int, help="sentences per batch (train.batch_size)")
    p.set_defaults(func=cmd_data_stats)

    for name, func, text in (("translate", cmd_translate, "translate stdin (or --input)"),
                             ("evaluate", cmd_evaluate, "BLEU/chrF/exact match on a test set")):
        p = sub.add_parser(name, help=text)
        _config_flags(p)
        _decode_flags(p)
        p.add_argument("--saved-model", help="an exported SavedModel (version folder or base)")
        p.add_argument("--batch-size", type=int, default=64)
        if name == "translate":
            p.add_argument("--input", help="read sentences from this file instead of stdin")
            p.add_argument("--n-best", type=int, help="print N hypotheses per sentence "
                           "(Moses format 'i ||| hypothesis ||| score')")
            p.add_argument("--server", help="HOST:PORT of TF Serving (gRPC) to translate with")
            p.add_argument("--model-name", default="keras_s2s", help="the served model name")
        else:
            p.add_argument("--src", help="source sentences (default: the built-in test split)")
            p.add_argument("--ref", help="reference translations, line-aligned with --src")
        p.set_defaults(func=func)

    p = sub.add_parser("score", help="log p(target | source) of given sentence pairs")
    _decode_flags(p, required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--tgt", required=True)
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("rescore", help="re-rank a Moses n-best list with the model (paper §3.3)")
    _decode_flags(p, required=True)
    p.add_argument("--src", required=True, help="the source sentences")
    p.add_argument("--nbest", required=True, help="'i ||| hypothesis ||| score' lines")
    p.add_argument("--weight", type=float, default=0.5, help="share of the n-best's own score")
    p.set_defaults(func=cmd_rescore)

    p = sub.add_parser("export", help="write a SavedModel in TF Serving's BASE/NAME/VERSION")
    _io_flags(p, model_dir_required=True)
    p.add_argument("--base", help="export base folder (default: MODEL_DIR/export)")
    p.add_argument("--name", default="keras_s2s", help="model name under the base")
    p.add_argument("--version", type=int, help="version number (default: the next free one)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="development/test stand-in for TF Serving (gRPC + REST)")
    p.add_argument("--base", required=True, help="export base folder (holds NAME/VERSION)")
    p.add_argument("--name", default="keras_s2s")
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--rest-port", type=int, default=8501)
    p.add_argument("--max-batch-size", type=int, default=64, help="1 disables batching")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="parameter counts of a preset/config (built, not trained)")
    _config_flags(p)
    _io_flags(p)
    p.set_defaults(func=cmd_info)

    bench = sub.add_parser("bench", help="benchmarks printing JSON figures").add_subparsers(
        dest="bench", required=True)
    p = bench.add_parser("train", help="training speed: tokens/s, GFLOP/s, MFU, memory")
    _config_flags(p)
    _io_flags(p)
    _data_flags(p, valid=False)
    p.add_argument("--steps", type=int, default=50, help="timed training steps")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--batch-size", type=int)
    p.set_defaults(func=cmd_bench_train)

    p = bench.add_parser("decode", help="greedy/beam sentences/s: in-graph, SavedModel, eager")
    _decode_flags(p, required=True)
    p.add_argument("--src", required=True, help="source sentences to translate")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=256, help="sentences to use from --src")
    p.set_defaults(func=cmd_bench_decode)

    p = bench.add_parser("serve", help="latency and throughput of the local server over gRPC")
    p.add_argument("--base", required=True)
    p.add_argument("--name", default="keras_s2s")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--src", help="sentences to send (default: a few built-in ones)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_serve)

    p = sub.add_parser("demo", help="built-in task: train, evaluate, export, reload, translate")
    _config_flags(p)
    _io_flags(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-s2s` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        figures = args.func(args)
    except (ValueError, OSError, FloatingPointError) as err:
        print(f"keras-s2s {args.command}: error: {err}", file=sys.stderr)
        return 2
    if getattr(args, "json", False) or args.command == "demo":
        print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
