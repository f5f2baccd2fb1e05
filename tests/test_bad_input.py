"""Bad input through the public CLI: a clear one-line error naming what was received, the
right exit code, and never a Python traceback."""

import json

import pytest
from conftest import run_cli

from keras_s2s import cli
from keras_s2s.export.saved_model import served_names, write_server_configs


def _run(capsys, args):
    code, out, err = run_cli(capsys, args)
    return code, err + out


BAD = [
    (["train"], "--model-dir"),
    (["train", "--model-dir", "r", "--epochs", "x"], "invalid float value: 'x'"),
    (["train", "--model-dir", "r", "--set", "model.hiden_dim=8"], "model.hiden_dim"),
    (["train", "--model-dir", "r", "--set", "nonsense"], "key=value"),
    (["train", "--model-dir", "r", "--preset", "huge"], "Unknown preset 'huge'"),
    (["train", "--model-dir", "r", "--config", "missing.yaml"], "missing.yaml"),
    (["train", "--model-dir", "r", "--on-bad-line", "ignore"], "'ignore'"),
    (["vocab", "--model-dir", "r", "--src", "no.en", "--tgt", "no.fr"], "no.en"),
    (["data-stats", "--batch-size", "0"], "--batch-size"),
    (["info", "--set", "train.precision=fp8"], "fp8"),
    (["translate", "--model-dir", "nowhere"], "not a run directory"),
    (["translate", "--saved-model", "nowhere"], "No SavedModel at nowhere"),
    (["translate", "--server", "nohost"], "HOST:PORT"),
    (["translate", "--model-dir", "r", "--beam-size", "0"], "--beam-size"),
    (["score", "--model-dir", "r", "--src", "a"], "--tgt"),
    (["rescore", "--saved-model", "nowhere", "--src", "a", "--nbest", "b"], "No SavedModel"),
    (["evaluate", "--saved-model", "x", "--model-dir", "y"], "exactly one of"),
    (["evaluate", "--saved-model", "x", "--beam-size", "0"], "--beam-size"),
    (["translate", "--model-dir", "r", "--on-long-input", "cut"], "'cut'"),
    (["train", "--model-dir", "r", "--set", "model.hidden_dim=[1,"], "not valid YAML"),
    (["evaluate", "--model-dir", "nowhere", "--src", "a"], "--src and --ref"),
    (["experiment", "nope", "--model-dir", "r"], "'nope'"),
    (["export", "--model-dir", "nowhere"], "not a run directory"),
    (["export", "--model-dir", "r", "--version", "0"], "--version"),
    (["export-tflite", "--model-dir", "r", "--out", "x", "--quantize", "int4"], "'int4'"),
    (["export-tflite", "--model-dir", "nowhere", "--out", "x"], "not a run directory"),
    (["serve", "--base", "nowhere", "--port", "0", "--rest-port", "0"], "No servable version"),
    (["serve", "--base", "b", "--max-batch-size", "0"], "--max-batch-size"),
    (["bench", "train", "--precision", "fp64"], "'fp64'"),
    (["bench", "decode", "--model-dir", "r", "--src", "a", "--limit", "0"], "--limit"),
    (["bench", "tflite", "--model-dir", "r"], "--src"),
    (["bench", "serve", "--base", "b", "--clients", "-1"], "--clients"),
    (["demo", "--set", "train.epochs=0"], "'train.epochs' must be positive"),
]


@pytest.mark.parametrize("args, names", BAD, ids=lambda v: " ".join(v) if isinstance(v, list)
                         else None)
def test_bad_arguments_give_one_clear_error_and_no_traceback(args, names, capsys, tmp_path,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths name nothing that exists
    code, output = _run(capsys, args)
    assert code == 2, output
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if "error:" in line]
    assert len(error_lines) == 1, output
    assert names in error_lines[0], output


def test_exporting_a_second_model_keeps_the_first_in_models_config(tiny_run, tmp_path, capsys):
    """Two real exports of "first" (a new version each); "second" is registered in between
    by the same function an export calls (a third SavedModel would add only time)."""
    def export(name):
        code, output = _run(capsys, ["export", "--model-dir", str(tiny_run), "--base",
                                     str(tmp_path), "--name", name, "--json"])
        assert code == 0, output
        assert json.loads(output.strip().splitlines()[-1])["export_dir"].startswith(
            str(tmp_path / name))

    export("first")
    write_server_configs(tmp_path, "second")
    export("first")
    assert served_names(tmp_path / "models.config") == ["first", "second"]
    assert sorted(p.name for p in (tmp_path / "first").iterdir()) == ["1", "2"]


def test_fractional_epochs_are_accepted_like_the_config_key(capsys):
    args = cli.build_parser().parse_args(["train", "--model-dir", "r", "--epochs", "7.5"])
    assert args.epochs == 7.5
