"""Checkpoint averaging: epoch weights kept during training, `train.average_last`, and
`keras-s2s average` writing a run directory every command can use."""

import keras
import numpy as np
import pytest
from conftest import run_cli, train_tiny

from keras_s2s import runs
from keras_s2s.config import ConfigError, resolve
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train.epoch_weights import (
    average_weights,
    epoch_files,
    select_epochs,
    validation_history,
)
from keras_s2s.train.trainer import LAST_WEIGHTS_FILE


def test_averaging_two_checkpoints_gives_their_element_wise_mean(tmp_path):
    cfg = resolve("tiny").model
    files, weights = [], []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        model = build_seq2seq(cfg, 12, 13)
        files.append(tmp_path / f"{seed}.weights.h5")
        model.save_weights(str(files[-1]))
        weights.append(model.get_weights())
    average_weights(model, files)
    for got, a, b in zip(model.get_weights(), *weights):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="at least one"):
        average_weights(model, [])


@pytest.fixture(scope="module")
def averaged_run(tmp_path_factory):
    return train_tiny(tmp_path_factory, "averaged_run", "data.task_size=1000", "train.epochs=3",
                      "train.keep_epoch_weights=2", "train.average_last=2")[0]


def test_training_keeps_the_last_epochs_and_averages_them(averaged_run):
    kept = epoch_files(averaged_run)
    assert sorted(kept) == [2, 3]  # keep_epoch_weights=2
    model = runs.build_model(averaged_run)
    average_weights(model, [kept[2], kept[3]])
    expected = model.get_weights()
    model.load_weights(str(averaged_run / "model.weights.h5"))
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    model.load_weights(str(averaged_run / LAST_WEIGHTS_FILE))  # the last epoch's own
    last = model.get_weights()
    model.load_weights(str(kept[3]))
    assert all(np.array_equal(a, b) for a, b in zip(last, model.get_weights()))


def test_average_command_writes_a_usable_run(averaged_run, tmp_path, capsys):
    logged = validation_history(averaged_run)
    best_epoch = min((2, 3), key=lambda e: logged[e]["val_perplexity"])
    assert select_epochs(averaged_run, best=1) == [epoch_files(averaged_run)[best_epoch]]
    out = tmp_path / "avg"
    code, _, err = run_cli(capsys, ["average", "--model-dir", str(averaged_run), "--last", "2",
                                    "--out", str(out)])
    assert code == 0, err
    code, _, err = run_cli(capsys, ["evaluate", "--model-dir", str(out), "--json"])
    assert code == 0, err
    for args, message in (([], "one of --last N"), (["--last", "1", "--best", "1"], "one of"),
                          (["--last", "3"], "keeps the weights of 2 epoch"),
                          (["--last", "2"], "holds a run already")):
        code, _, err = run_cli(capsys, ["average", "--model-dir", str(averaged_run),
                                        "--out", str(out), *args])
        assert code == 2 and message in err, err


def test_average_last_needs_the_epochs_kept():
    with pytest.raises(ConfigError, match="keep_epoch_weights >= 6"):
        resolve("tiny", overrides=["train.average_last=6"])
