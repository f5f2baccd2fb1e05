"""The `keras-s2s` command: the one place that wires config, data, model, training and export."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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


def resolve_config(args: argparse.Namespace, default_preset: str = "demo"):
    """Defaults ← `--preset` ← `--config` ← `--set`, `--epochs`, `--seed`."""
    from keras_s2s.config import resolve

    overrides = list(args.set)
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    preset = args.preset or (None if args.config else default_preset)
    return resolve(preset, args.config, overrides)


def cmd_train(args: argparse.Namespace) -> dict:
    from keras_s2s import runs
    from keras_s2s.data.corpus import read_parallel

    cfg = resolve_config(args)
    if args.src or args.tgt:
        if not (args.src and args.tgt):
            raise ValueError("--src and --tgt go together; received only one of them.")
        train_pairs = read_parallel(args.src, args.tgt)
        valid_pairs = (read_parallel(args.valid_src, args.valid_tgt)
                       if args.valid_src and args.valid_tgt else None)
    else:
        splits = runs.builtin_splits(cfg)
        train_pairs, valid_pairs = splits.train, splits.valid
    start = time.time()
    history = runs.train(cfg, args.model_dir, train_pairs, valid_pairs)
    last = {key: round(float(values[-1]), 4) for key, values in history.items()}
    return {"model_dir": args.model_dir, "train_pairs": len(train_pairs),
            "seconds": round(time.time() - start, 1), **last}


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


def _translate_fn(args: argparse.Namespace):
    """The `text → {translation, log_prob}` function of a SavedModel or a run directory.

    The closures keep the loaded object alive: a `tf.function` holds its owner weakly.
    """
    if args.saved_model:
        from keras_s2s.export.saved_model import load_saved_model

        loaded = load_saved_model(args.saved_model)
        return lambda text: loaded.signatures["serving_default"](text=text)
    if not args.model_dir:
        raise ValueError("Pass --saved-model DIR (an export) or --model-dir DIR (a run).")
    from keras_s2s import runs

    translator = runs.load_translator(args.model_dir)
    return lambda text: translator.translate(text)


def cmd_translate(args: argparse.Namespace) -> dict:
    from keras_s2s.decode.translator import translate_all

    translate_fn = _translate_fn(args)  # fails fast, before waiting on stdin
    texts = _read_input(args.input)
    start = time.time()
    translations, _ = translate_all(translate_fn, texts, args.batch_size)
    for line in translations:
        print(line)
    return {"sentences": len(texts), "seconds": round(time.time() - start, 2)}


def cmd_evaluate(args: argparse.Namespace) -> dict:
    from keras_s2s.decode.translator import translate_all
    from keras_s2s.evaluation import corpus_scores, format_scores

    if args.src and args.ref:
        from keras_s2s.data.corpus import read_parallel

        pairs = read_parallel(args.src, args.ref)
    else:
        from keras_s2s import runs

        cfg = runs.load_config(args.model_dir) if args.model_dir else resolve_config(args)
        pairs = runs.builtin_splits(cfg).test
    sources, refs = [s for s, _ in pairs], [t for _, t in pairs]
    hyps, _ = translate_all(_translate_fn(args), sources, args.batch_size)
    scores = corpus_scores(hyps, refs)
    print(format_scores(scores), file=sys.stderr)
    return {"sentences": len(pairs), **scores}


def cmd_export(args: argparse.Namespace) -> dict:
    from keras_s2s import runs
    from keras_s2s.export.saved_model import export_saved_model

    base = args.base or str(Path(args.model_dir) / "export")
    path = export_saved_model(runs.load_translator(args.model_dir), base, args.name,
                              args.version)
    print(f"exported {path}", file=sys.stderr)
    return {"export_dir": str(path)}


def cmd_demo(args: argparse.Namespace) -> dict:
    from keras_s2s.demo import run_demo

    return run_demo(resolve_config(args), args.model_dir or "runs/demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-s2s", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (the built-in task unless --src/--tgt)")
    _config_flags(p)
    _io_flags(p, model_dir_required=True)
    for flag in ("--src", "--tgt", "--valid-src", "--valid-tgt"):
        p.add_argument(flag, help="one sentence per line, UTF-8, .gz accepted")
    p.set_defaults(func=cmd_train)

    for name, func, text in (("translate", cmd_translate, "translate stdin (or --input)"),
                             ("evaluate", cmd_evaluate, "BLEU/chrF/exact match on a test set")):
        p = sub.add_parser(name, help=text)
        _config_flags(p)
        _io_flags(p)
        p.add_argument("--saved-model", help="an exported SavedModel (version folder or base)")
        p.add_argument("--batch-size", type=int, default=64)
        if name == "translate":
            p.add_argument("--input", help="read sentences from this file instead of stdin")
        else:
            p.add_argument("--src", help="source sentences (default: the built-in test split)")
            p.add_argument("--ref", help="reference translations, line-aligned with --src")
        p.set_defaults(func=func)

    p = sub.add_parser("export", help="write a SavedModel in TF Serving's BASE/NAME/VERSION")
    _io_flags(p, model_dir_required=True)
    p.add_argument("--base", help="export base folder (default: MODEL_DIR/export)")
    p.add_argument("--name", default="keras_s2s", help="model name under the base")
    p.add_argument("--version", type=int, help="version number (default: the next free one)")
    p.set_defaults(func=cmd_export)

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
    except (ValueError, FileNotFoundError, FileExistsError, FloatingPointError) as err:
        print(f"keras-s2s {args.command}: error: {err}", file=sys.stderr)
        return 2
    if getattr(args, "json", False) or args.command == "demo":
        print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
