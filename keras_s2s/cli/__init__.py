"""The `keras-s2s` command: the one place that wires config, data, model, training, decoding,
export and serving. Each command group is a module holding its flags and its handlers."""

from __future__ import annotations

import argparse
import json
import os
import sys

from keras_s2s.cli import (
    bench_commands,
    decode_commands,
    demo,
    eval_commands,
    export_commands,
    train_commands,
)
from keras_s2s.driver import BackendError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter quiet

GROUPS = (train_commands, decode_commands, eval_commands, export_commands, bench_commands,
          demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-s2s", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-s2s` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        figures = args.func(args)
    except (ValueError, OSError, FloatingPointError, BackendError) as err:
        print(f"keras-s2s {args.command}: error: {err}", file=sys.stderr)
        return 2
    if args.json or args.command == "demo":
        print(json.dumps(figures, ensure_ascii=False))
    return 0
