"""The `keras-s2s` command: the one place that wires config, data, model, training, decoding,
export and serving. Each command group is a module holding its flags and its handlers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from typing import Iterator

from keras_s2s.cli import (
    bench_commands,
    decode_commands,
    demo,
    distill_commands,
    eval_commands,
    export_commands,
    train_commands,
)
from keras_s2s.driver import BackendError

GROUPS = (train_commands, decode_commands, eval_commands, export_commands, bench_commands,
          distill_commands, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-s2s", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit code: 0 done, 1 failed at run time, 2 a usage or
    input error, 130 interrupted. Errors are one line on stderr, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        figures = args.func(args)
    except (ValueError, OSError, FloatingPointError, BackendError) as err:
        print(f"keras-s2s {args.command}: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, (FloatingPointError, BackendError)) else 2
    except KeyboardInterrupt:
        where = getattr(args, "model_dir", None)
        resume = (f" Rerun the same command to resume from the last checkpoint in {where}."
                  if args.command == "train" and where else "")
        print(f"keras-s2s {args.command}: interrupted.{resume}", file=sys.stderr)
        return 130
    if args.json or args.command == "demo":
        print(json.dumps(figures, ensure_ascii=False))
    elif args.command == "bench" and figures:  # its figures are all it has to say
        print(bench_commands.readable(figures))
    return 0


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Sends what C++ code writes to stderr (TensorFlow's start-up and CUDA lines) to
    /dev/null, while Python's `sys.stderr` (our messages, warnings, tracebacks) still reaches
    the terminal through a copy of the original descriptor."""
    sys.stderr.flush()
    original = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(original), "w", buffering=1, encoding="utf-8",
                           errors="backslashreplace")
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)
        sys.stderr.close()
        sys.stderr = python_stderr
        os.close(original)
        os.close(null)


def _exit_now_if_interrupted(code: int) -> int:
    """After Ctrl-C (130), leaves without the interpreter's teardown: TensorFlow's input
    threads can hold it up for minutes on a busy machine, and the checkpoint is on disk."""
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run() -> int:
    """The console script: `main()` with TensorFlow's native log lines silenced unless
    `--verbose` is given."""
    if "--verbose" in sys.argv[1:]:
        return _exit_now_if_interrupted(main())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        return _exit_now_if_interrupted(main())
