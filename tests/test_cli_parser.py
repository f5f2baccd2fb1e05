"""The CLI's parser: every command registered once with `--json`, flags mapped to config keys
in one place, allowed values taken from the config's `Literal` types."""

import argparse
import dataclasses
import typing

import pytest

from keras_s2s import cli
from keras_s2s.cli.parser import FLAG_KEYS, positive_int, resolve_config
from keras_s2s.config import Config, ConfigError, Precision, TokenizerKind, choices_of, resolve
from keras_s2s.constants import QUANTIZATIONS

COMMANDS = ["train", "vocab", "data-stats", "info", "translate", "score", "rescore", "align",
            "evaluate", "experiment", "export", "export-tflite", "serve", "demo", "average",
            "distill"]
BENCHES = ["train", "decode", "tflite", "serve"]


def _subparsers(parser):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_every_command_is_registered_once_with_json_and_help():
    commands = _subparsers(cli.build_parser())
    assert sorted(commands) == sorted(COMMANDS + ["bench"])
    for name, parser in list(commands.items()) + list(_subparsers(commands["bench"]).items()):
        if name == "bench" and parser is commands["bench"]:
            continue
        flags = [opt for action in parser._actions for opt in action.option_strings]
        assert flags.count("--json") == 1, name
        assert len(flags) == len(set(flags)), name
    assert sorted(_subparsers(commands["bench"])) == sorted(BENCHES)


def test_choices_come_from_the_config_types():
    commands = _subparsers(cli.build_parser())
    bench_train = _subparsers(commands["bench"])["train"]
    (precision,) = [a for a in bench_train._actions if a.dest == "precision"]
    assert tuple(precision.choices) == typing.get_args(Precision)
    (quantize,) = [a for a in commands["export-tflite"]._actions if a.dest == "quantize"]
    assert tuple(quantize.choices) == QUANTIZATIONS
    assert choices_of(TokenizerKind) == ("word", "space", "char", "sentencepiece")
    assert choices_of(int) == ()


def test_every_flag_key_is_a_real_config_key():
    for dest, key in FLAG_KEYS.items():
        *section, name = key.split(".")
        owner = getattr(Config(), section[0]) if section else Config()
        assert name in {f.name for f in dataclasses.fields(owner)}, (dest, key)


def test_flags_reach_their_config_keys():
    args = cli.build_parser().parse_args([
        "data-stats", "--src", "a.en", "--tgt", "a.fr", "--batch-size", "16", "--epochs", "7.5",
        "--seed", "9", "--on-bad-line", "skip", "--no-reverse-source", "--set",
        "model.hidden_dim=8"])
    cfg = resolve_config(args)
    assert (cfg.data.train_src, cfg.data.train_tgt) == ("a.en", "a.fr")
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.seed) == (16, 7.5, 9)
    assert (cfg.data.on_bad_line, cfg.data.reverse_source) == ("skip", False)
    assert cfg.model.hidden_dim == 8 and args.set == ["model.hidden_dim=8"]  # not mutated
    builtin = resolve_config(cli.build_parser().parse_args(["info"]))
    assert builtin.model.hidden_dim == resolve("demo").model.hidden_dim  # the demo preset


@pytest.mark.parametrize("text, ok", [("1", True), ("64", True), ("0", False), ("-3", False),
                                      ("2.5", False), ("x", False)])
def test_positive_int(text, ok):
    if ok:
        assert positive_int(text) == int(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text) if text == "x"
                           else "must be >= 1|expected an integer"):
            positive_int(text)


@pytest.mark.parametrize("override, message", [
    ("train.precision=fp8", "'train.precision' must be one of ('auto', 'fp32', 'bf16', 'fp16')"),
    ("data.src_tokenizer=bpe", "'data.src_tokenizer' must be one of"),
    ("train.batch_size=0", "'train.batch_size' must be positive; received: 0"),
    ("decode.beam_size=-2", "'decode.beam_size' must be positive"),
    ("model.hidden_dim=0", "'model.hidden_dim' must be positive"),
    ("train.epochs=0", "'train.epochs' must be positive"),
])
def test_config_checks_sit_on_the_fields(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(overrides=[override])
