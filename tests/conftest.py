"""Shared fixtures: a tiny model trained once per test session on the built-in task."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from keras_s2s import cli, runs, training  # noqa: E402
from keras_s2s.config import resolve  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def train_tiny(tmp_path_factory, name: str, *overrides: str):
    """A run directory `name` holding a `tiny` model trained with `overrides`; returns
    `(run directory, config)`."""
    cfg = resolve("tiny", overrides=list(overrides))
    run = tmp_path_factory.mktemp(name)
    training.train(cfg, run, verbose=0)
    return run, cfg


@pytest.fixture(scope="session")
def tiny_config():
    return resolve("tiny", overrides=["data.task_size=1500", "train.epochs=1"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config):
    """A run directory holding a `tiny` model trained for one epoch."""
    model_dir = tmp_path_factory.mktemp("tiny_run")
    training.train(tiny_config, model_dir, verbose=0)
    return model_dir


@pytest.fixture(scope="session")
def tiny_translator(tiny_run):
    return runs.load_translator(tiny_run)


def run_cli(capsys, args):
    """`(exit code, stdout, stderr)` of one `keras-s2s` call in this process, argparse's own
    exits included."""
    try:
        code = cli.main(args)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_process(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """One `keras-s2s` call in a fresh interpreter (its own TensorFlow start-up), output
    captured as text."""
    return subprocess.run([sys.executable, "-m", "keras_s2s.cli", *args], capture_output=True,
                          text=True, timeout=timeout, **kwargs)
