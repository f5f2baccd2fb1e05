"""Run directories: what a run holds, how it is read back, and the errors on a wrong one."""

import shutil

import pytest

from keras_s2s import runs, training
from keras_s2s.config import resolve
from keras_s2s.constants import CONFIG_FILE, DATA_REPORT_FILE, WEIGHTS_FILE


def test_a_trained_run_holds_its_files_and_loads_back(tiny_run, tiny_config):
    names = {p.name for p in tiny_run.iterdir()}
    assert {CONFIG_FILE, DATA_REPORT_FILE, WEIGHTS_FILE, "src.vocab", "tgt.vocab",
            "checkpoints", "logs"} <= names
    assert runs.load_config(tiny_run) == tiny_config
    cfg, model, src_tok, tgt_tok = runs.load_model(tiny_run)
    assert cfg == tiny_config and model.get_layer("encoder_lstm_0") is not None
    assert src_tok.vocab_size > 4 and tgt_tok.vocab_size > 4


def test_not_a_run_and_unfinished_run_are_clear_errors(tiny_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        runs.load_config(tmp_path)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_run, unfinished, ignore=shutil.ignore_patterns(WEIGHTS_FILE))
    with pytest.raises(FileNotFoundError, match="has not finished training"):
        runs.load_model(unfinished)


def test_an_ensemble_needs_the_same_vocabularies(tiny_run, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(tiny_run, twin)
    assert runs.load_translator([tiny_run, twin]).src_tokenizer.vocab_size > 4
    (twin / "tgt.vocab").write_text((tiny_run / "tgt.vocab").read_text() + "extra\n")
    with pytest.raises(ValueError, match="must share vocabularies"):
        runs.load_translator([tiny_run, twin])


def test_a_run_keeps_its_config_only_epochs_decode_precision_replicas_change(tiny_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run / CONFIG_FILE, run / CONFIG_FILE)
    shutil.copy(tiny_run / WEIGHTS_FILE, run / WEIGHTS_FILE)  # a run that has trained
    saved = runs.load_config(run)
    runs.write_config(resolve(overrides=[saved.to_dict(), "train.epochs=3",
                                         "decode.beam_size=9", "train.precision=fp32",
                                         "train.cpu_replicas=2"]), run)
    assert runs.load_config(run).train.epochs == 3 and runs.has_started(run)
    with pytest.raises(ValueError, match="another config"):
        runs.write_config(resolve(overrides=[saved.to_dict(), "model.hidden_dim=8"]), run)
    (run / WEIGHTS_FILE).unlink()  # never trained: the new config replaces the stale one
    runs.write_config(resolve(overrides=[saved.to_dict(), "model.hidden_dim=8"]), run)
    assert runs.load_config(run).model.hidden_dim == 8


def test_builtin_splits_and_corpora_of_a_config(tiny_config):
    splits = training.builtin_splits(tiny_config)
    assert len(splits.train) == tiny_config.data.task_size
    train, valid = training.corpora(tiny_config)
    assert valid is not None and train.scan().pairs == len(splits.train)
