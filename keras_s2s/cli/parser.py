"""The `keras-s2s` parser: flag groups shared by the commands, and the one map of flags to
config keys. Each command module registers its own sub-commands (flags and handler together).
"""

from __future__ import annotations

import argparse
from typing import Callable, get_args

from keras_s2s.config import PRESETS, OnBadLine, Precision
from keras_s2s.driver import OnLongInput

# Flags that set a config key: `args.<dest>` → dotted key (applied after `--set`).
FLAG_KEYS = {"epochs": "train.epochs", "seed": "seed", "train_batch_size": "train.batch_size",
             "src": "data.train_src", "tgt": "data.train_tgt", "tsv": "data.train_tsv",
             "tfds": "data.train_tfds", "valid_src": "data.valid_src",
             "valid_tgt": "data.valid_tgt", "valid_tsv": "data.valid_tsv",
             "valid_tfds": "data.valid_tfds", "on_bad_line": "data.on_bad_line",
             "reverse_source": "data.reverse_source"}
Handler = Callable[[argparse.Namespace], dict]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (refused before any model is loaded)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; received: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; received: {value}")
    return value


def command(sub: argparse._SubParsersAction, name: str, text: str, handler: Handler
            ) -> argparse.ArgumentParser:
    """A sub-command with its handler and the flags every command has."""
    parser = sub.add_parser(name, help=text, description=text)
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures last")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up and C++ log lines")
    parser.set_defaults(func=handler)
    return parser


def config_flags(parser: argparse.ArgumentParser) -> None:
    """`--preset`, `--config`, `--set` and the `--epochs`/`--seed` shortcuts."""
    parser.add_argument("--preset", help=f"named preset: {', '.join(PRESETS)}")
    parser.add_argument("--config", help="YAML config file (sections data/model/train/decode)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set model.hidden_dim=128")
    parser.add_argument("--epochs", type=float, help="shortcut for --set train.epochs=N "
                        "(a fraction trains part of the last epoch)")
    parser.add_argument("--seed", type=int, help="shortcut for --set seed=N")


def run_dir_flag(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--model-dir", required=required,
                        help="run directory (config, vocabularies, weights, logs)")


def corpus_flags(parser: argparse.ArgumentParser, valid: bool = True) -> None:
    """Corpus flags; each is the same as setting its `data.*` config key."""
    for flag in ("src", "tgt") + (("valid-src", "valid-tgt") if valid else ()):
        parser.add_argument(f"--{flag}", help="one sentence per line, UTF-8, .gz accepted")
    parser.add_argument("--tsv", help="a two-column TSV of pairs (instead of --src/--tgt)")
    parser.add_argument("--tfds", help="a TFDS set, e.g. wmt14_translate/fr-en:train")
    if valid:
        parser.add_argument("--valid-tsv")
        parser.add_argument("--valid-tfds")
    parser.add_argument("--on-bad-line", choices=get_args(OnBadLine),
                        help="invalid UTF-8 or malformed lines: stop (default) or skip and count")
    parser.add_argument("--reverse-source", action=argparse.BooleanOptionalAction,
                        help="feed the source backwards (the paper's trick; on by default)")


def corpus_batches_flags(parser: argparse.ArgumentParser) -> None:
    """A config, an optional run directory, a training corpus and its batch size: what the
    commands that measure a corpus's batches take (`data-stats`, `bench train`)."""
    config_flags(parser)
    run_dir_flag(parser, required=False)
    corpus_flags(parser, valid=False)
    parser.add_argument("--batch-size", dest="train_batch_size", type=positive_int,
                        help="sentences per batch (train.batch_size)")


def search_flags(parser: argparse.ArgumentParser, required: bool = False) -> None:
    """Run directories (several = an ensemble) and the search settings."""
    parser.add_argument("--model-dir", nargs="+", required=required,
                        help="run directory; several = an ensemble (log-probs averaged)")
    parser.add_argument("--beam-size", type=positive_int, help="beam width (default: the "
                        "model's own); 1 = greedy")
    parser.add_argument("--length-penalty", type=float, help="GNMT alpha (0 = the paper)")
    parser.add_argument("--max-len-a", type=float, help="at most A * source tokens + B output "
                        "tokens (default: the model's own, 1.5)")
    parser.add_argument("--max-len-b", type=int, help="see --max-len-a (default 10)")
    parser.add_argument("--coverage-penalty", type=float, help="GNMT beta, attention models: "
                        "favour translations that attend to every source word (0 = off)")
    parser.add_argument("--precision", choices=get_args(Precision),
                        help="the search's arithmetic (default: the run's decode.precision, "
                             "fp32); auto = bf16 where the CPU computes it natively")


def replace_unk_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replace-unk", action="store_true", default=None,
                        help="attention models: print the attended source word in place of "
                             "each <unk> (an export does so if exported with this flag)")


def backend_flags(parser: argparse.ArgumentParser, batch_size: int = 64,
                  translates: bool = True) -> None:
    """The model to decode with, one of three back ends, and how to batch (and for commands
    that print translations, `--replace-unk`)."""
    search_flags(parser)
    if translates:
        replace_unk_flag(parser)
    parser.add_argument("--saved-model", help="an exported SavedModel (version folder or base)")
    parser.add_argument("--server", metavar="HOST:PORT", help="TF Serving's gRPC address")
    parser.add_argument("--model-name", default="keras_s2s", help="the served model's name")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help="sentences per call, in length-sorted batches")
    parser.add_argument("--on-long-input", choices=get_args(OnLongInput), default="truncate",
                        help="a sentence longer than the model reads (decode.max_src_len "
                             "tokens): translate its beginning and warn, or stop with an error")


def served_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="export base folder (holds NAME/VERSION)")
    parser.add_argument("--name", default="keras_s2s", help="the served model's name")


def resolve_config(args: argparse.Namespace, extra: tuple = ()):
    """Defaults ← `--preset` ← `--config` ← `--set` ← the flags of `FLAG_KEYS` ← `extra`.

    Without a preset or config file, the built-in task uses the `demo` preset and a given
    corpus uses the defaults.
    """
    from keras_s2s.config import resolve

    overrides: list = list(args.set)
    for dest, key in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:  # dicts, not "key=value": values are taken as they are
            overrides.append(_nested(key, value))
    overrides += list(extra)
    has_corpus = any(getattr(args, dest, None) for dest in ("src", "tgt", "tsv", "tfds"))
    preset = args.preset or (None if args.config or has_corpus else "demo")
    return resolve(preset, args.config, overrides)


def _nested(key: str, value) -> dict:
    """`"data.train_src", v` → `{"data": {"train_src": v}}`."""
    *sections, last = key.split(".")
    nested = {last: value}
    for section in reversed(sections):
        nested = {section: nested}
    return nested
