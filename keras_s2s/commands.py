"""The `keras-s2s` sub-commands: each wires config, data, model, training, decoding or serving.

Heavy modules (TensorFlow, the model) are imported inside the commands, so that
`translate --saved-model` never imports `keras_s2s.model`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from keras_s2s.constants import DATA_REPORT_FILE

DATA_FLAGS = {"src": "train_src", "tgt": "train_tgt", "tsv": "train_tsv", "tfds": "train_tfds",
              "valid_src": "valid_src", "valid_tgt": "valid_tgt", "valid_tsv": "valid_tsv",
              "valid_tfds": "valid_tfds", "on_bad_line": "on_bad_line",
              "reverse_source": "reverse_source"}


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


def translator_from_args(args: argparse.Namespace):
    """The Translator of one run directory or of an ensemble (several `--model-dir`)."""
    from keras_s2s import runs

    dirs = args.model_dir if isinstance(args.model_dir, list) else [args.model_dir]
    return runs.load_translator(dirs, _decode_config(args, runs.load_config(dirs[0]).decode))


def open_driver(args: argparse.Namespace):
    """The `Driver` of the one back end the flags name: `--model-dir` (a run, or several as an
    ensemble), `--saved-model` (an export) or `--server` (TF Serving over gRPC)."""
    from keras_s2s.driver import Driver, SavedModelBackend, ServerBackend, TranslatorBackend

    given = [flag for flag, value in (("--model-dir", args.model_dir),
                                      ("--saved-model", getattr(args, "saved_model", None)),
                                      ("--server", getattr(args, "server", None))) if value]
    if len(given) != 1:
        raise ValueError("Pass exactly one of --model-dir DIR (a run), --saved-model DIR (an "
                         "export) or --server HOST:PORT (TF Serving); received: "
                         f"{', '.join(given) or 'none'}.")
    if getattr(args, "length_penalty", None) is not None and not args.model_dir:
        raise ValueError("--length-penalty works with --model-dir only: an export's length "
                         "penalty is fixed when it is exported (`keras-s2s export "
                         "--length-penalty A`).")
    if args.model_dir:
        backend = TranslatorBackend(translator_from_args(args))
    elif getattr(args, "saved_model", None):
        backend = SavedModelBackend(args.saved_model)
    else:
        backend = ServerBackend(args.server, args.model_name)
    return Driver(backend, args.batch_size)


def cmd_serve(args: argparse.Namespace) -> dict:
    from serving.server import serve

    serve(args.base, args.name, args.host, args.port, args.rest_port, args.max_batch_size)
    return {"stopped": True}


def cmd_bench_serve(args: argparse.Namespace) -> dict:
    from serving.bench import bench_serve

    return bench_serve(args.base, args.name, args.clients, args.requests, args.src)


def cmd_translate(args: argparse.Namespace) -> dict:
    """1-best translations, one per line, or n-best lists as `i ||| hypothesis ||| score`."""
    from keras_s2s.config import DecodeConfig

    n_best = args.n_best or 1
    if args.n_best and args.beam_size and args.n_best > args.beam_size:
        raise ValueError(f"--n-best {args.n_best} needs a beam at least as wide; received "
                         f"--beam-size {args.beam_size}.")
    driver = open_driver(args)  # first: a bad model path fails before waiting on stdin
    texts = _read_input(args.input)
    start = time.time()
    if args.n_best:
        beam = args.beam_size or max(n_best, DecodeConfig().beam_size)
        for i, hyps in enumerate(driver.nbest(texts, n_best, beam)):
            for hyp in hyps:
                print(f"{i} ||| {hyp.text} ||| {hyp.score:.4f}")
    else:
        for line in driver.translate(texts, args.beam_size)[0]:
            print(line)
    return {"sentences": len(texts), "seconds": round(time.time() - start, 2)}


def cmd_export(args: argparse.Namespace) -> dict:
    """Exports one run, or several as one ensemble SavedModel."""
    from keras_s2s.export.saved_model import export_saved_model, write_server_configs

    base = args.base or str(Path(args.model_dir[0]) / "export")
    path = export_saved_model(translator_from_args(args), base, args.name, args.version)
    write_server_configs(base, args.name)
    print(f"exported {path} (and {base}/models.config, batching_parameters.txt)",
          file=sys.stderr)
    return {"export_dir": str(path)}


def cmd_export_tflite(args: argparse.Namespace) -> dict:
    """Converts a run (or an ensemble) to a builtins-only `.tflite` with its vocabularies."""
    from keras_s2s.runs import export_tflite

    figures = export_tflite(args.model_dir, args.out, args.beam_size, args.max_src_len,
                            args.quantize, args.tflite_batch)
    print(f"wrote {args.out} ({figures['bytes']:,} bytes) and {figures['metadata']}",
          file=sys.stderr)
    return figures


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

    if args.batch_size:
        args.set.append(f"train.batch_size={args.batch_size}")
    results = {}
    for precision in args.precision or [None]:
        overrides = [f"train.precision={precision}"] if precision else []
        cfg = resolve_config(argparse.Namespace(**{**vars(args), "set": args.set + overrides}))
        with tempfile.TemporaryDirectory() as scratch:
            results[cfg.train.precision] = bench_train(cfg, args.model_dir or scratch,
                                                       args.steps, args.warmup)
    if len(results) == 1:
        return next(iter(results.values()))
    first, *others = results
    speedups = {f"{p}_speedup_vs_{first}": round(results[p]["tgt_tokens_per_s"]
                                                 / results[first]["tgt_tokens_per_s"], 3)
                for p in others}
    return {**results, **speedups}


def cmd_bench_decode(args: argparse.Namespace) -> dict:
    import tempfile

    from keras_s2s.bench import bench_decode

    with tempfile.TemporaryDirectory() as scratch:
        return bench_decode(args.model_dir, args.src, args.beam_size or 5, args.batch_size,
                            args.limit, scratch)


def cmd_bench_tflite(args: argparse.Namespace) -> dict:
    import tempfile

    from keras_s2s.bench_tflite import bench_tflite

    with tempfile.TemporaryDirectory() as scratch:
        return bench_tflite(args.model_dir[0], args.src, args.ref, args.beam_size or 5,
                            args.max_src_len, args.limit, scratch)


def cmd_demo(args: argparse.Namespace) -> dict:
    from keras_s2s.demo import run_demo

    return run_demo(resolve_config(args), args.model_dir or "runs/demo")
