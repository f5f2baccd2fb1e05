"""Selecting the best epoch: validation BLEU logged each epoch, best weights by BLEU, early
stopping after exactly N epochs without improvement (also across a kill -9), plateau."""

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import run_cli, train_tiny
from test_resume import train_command

from keras_s2s import training
from keras_s2s.config import ConfigError, resolve
from keras_s2s.train.callbacks import CHECKPOINT_DIR, STATE_FILE
from keras_s2s.train.epoch_weights import validation_history
from keras_s2s.train.selection import Metric, best_epoch, plateau_rate, stop_reason

BLEU = Metric("val_bleu", True)


def history(*values, name="val_bleu"):
    return {epoch: {name: value} for epoch, value in enumerate(values, start=1)}


def test_stopping_and_plateau_follow_the_logged_history():
    logged = history(10.0, 12.0, 11.0, 12.0, 9.0)  # a tie is no improvement
    assert best_epoch(logged, BLEU) == 2
    assert stop_reason(logged, BLEU, 4) is None
    assert "best epoch 2" in stop_reason(logged, BLEU, 3)
    assert stop_reason(logged, BLEU, 0) is None
    ppl = Metric("val_perplexity", False)
    assert best_epoch(history(9.0, 7.0, 8.0, name="val_perplexity"), ppl) == 2
    cfg = resolve(overrides=["train.schedule=plateau", "train.learning_rate=0.1",
                             "train.plateau_patience=1", "train.min_learning_rate=0.03"]).train
    assert plateau_rate(history(10.0, 12.0), BLEU, cfg) == 0.1
    assert plateau_rate(history(10.0, 12.0, 11.0), BLEU, cfg) == 0.05
    assert plateau_rate(history(10.0, 12.0, 11.0, 11.0, 11.0), BLEU, cfg) == 0.03  # the floor
    with pytest.raises(ConfigError, match="validate_bleu"):
        resolve(overrides=["train.keep_best=bleu"])


@pytest.fixture(scope="module")
def bleu_run(tmp_path_factory):
    return train_tiny(tmp_path_factory, "bleu_run", "data.task_size=1500", "train.epochs=3",
                      "train.validate_bleu=true", "train.keep_best=bleu", "train.precision=fp32")


def test_validation_bleu_is_logged_and_equals_evaluate(bleu_run, tmp_path, capsys):
    run, cfg = bleu_run
    logged = validation_history(run)
    assert sorted(logged) == [1, 2, 3] and all("val_bleu" in row for row in logged.values())
    best = json.loads((run / "best.json").read_text())
    assert best["metric"] == "val_bleu"
    assert best["epoch"] == max(logged, key=lambda e: (logged[e]["val_bleu"], -e))
    assert best["value"] == pytest.approx(logged[best["epoch"]]["val_bleu"])
    valid = training.builtin_splits(cfg).valid
    (tmp_path / "v.src").write_text("".join(s + "\n" for s, _ in valid), encoding="utf-8")
    (tmp_path / "v.ref").write_text("".join(t + "\n" for _, t in valid), encoding="utf-8")
    code, out, err = run_cli(capsys, ["evaluate", "--model-dir", str(run), "--beam-size", "1",
                                      "--src", str(tmp_path / "v.src"), "--ref",
                                      str(tmp_path / "v.ref"), "--json"])
    assert code == 0, err  # the final weights are the last epoch's
    assert json.loads(out.splitlines()[-1])["bleu"] == pytest.approx(logged[3]["val_bleu"])
    # `average --best 1` picks by the run's keep_best metric: the highest validation BLEU.
    code, out, err = run_cli(capsys, ["average", "--model-dir", str(run), "--best", "1",
                                      "--out", str(tmp_path / "best1"), "--json"])
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["averaged"] == [f"epoch{best['epoch']:03d}"
                                                            ".weights.h5"]


def test_early_stopping_stops_after_exactly_n_epochs_even_across_a_kill(tmp_path):
    # A zero learning rate never improves on epoch 1: with patience 2, epochs 2 and 3 train
    # and training stops before epoch 4. The run is killed -9 in the middle of epoch 3.
    extra = ["--set", "train.learning_rate=0", "--set", "train.early_stopping_patience=2",
             "--epochs", "6"]
    command = train_command(tmp_path, *extra)
    command[command.index("--epochs"):command.index("--epochs") + 2] = []  # ours wins
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state, deadline = tmp_path / CHECKPOINT_DIR / STATE_FILE, time.time() + 300
    try:
        while proc.poll() is None and time.time() < deadline:
            saved = json.loads(state.read_text()) if state.is_file() else {}
            if saved.get("epoch") == 2 and saved.get("step", 0) >= 5:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        proc.wait()
    assert sorted(validation_history(tmp_path)) == [1, 2]  # killed inside epoch 3
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(validation_history(tmp_path)) == [1, 2, 3]
    assert "stopped before epoch 4" in done.stderr
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["epoch"] == 1 and "2 epoch(s)" in best["stopped"]
