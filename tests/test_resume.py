"""A killed run resumes exactly; two worker processes train together over loopback."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_s2s import runs
from keras_s2s.config import resolve
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train import trainer
from keras_s2s.train.callbacks import CHECKPOINT_DIR, STATE_FILE, Position


def train_command(model_dir, *extra):
    return [sys.executable, "-m", "keras_s2s.cli", "train", "--preset", "tiny", "--model-dir",
            str(model_dir), "--epochs", "2", "--set", "train.batch_size=8",
            "--set", "train.checkpoint_every=5", "--set", "data.task_size=800", *extra]


# The tuned recipe (configs/multi30k_en_fr.yaml): its randomness, dropout masks (their seed
# states are checkpointed beside the weights) and word dropout (drawn per epoch from the
# seed), and its other state: tied embeddings, the rate halved every epoch, selection by
# validation BLEU.
RANDOM = ["--set", "model.dropout=0.3", "--set", "data.word_dropout=0.1",
          "--set", "train.label_smoothing=0.1", "--set", "model.tie_embeddings=true",
          "--set", "train.schedule=paper", "--set", "train.decay_start_epoch=1",
          "--set", "train.decay_every=1", "--set", "train.clip_norm=5",
          "--set", "train.validate_bleu=true", "--set", "train.keep_best=bleu",
          "--set", "data.reverse_source=true"]


def run_to_end(model_dir, *extra):
    return subprocess.run(train_command(model_dir, *extra), capture_output=True, text=True,
                          check=True, timeout=600)


def kill_mid_epoch(model_dir, *extra, timeout=300):
    """Starts training and kill -9s it once a mid-epoch checkpoint exists."""
    proc = subprocess.Popen(train_command(model_dir, *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = model_dir / CHECKPOINT_DIR / STATE_FILE
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if state.is_file():
                saved = json.loads(state.read_text())
                if saved["step"] >= 10:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return saved
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
    raise AssertionError("training ended before a mid-epoch checkpoint could be killed")


def test_kill9_mid_epoch_then_rerun_equals_uninterrupted(tmp_path):
    killed_at = kill_mid_epoch(tmp_path / "killed", *RANDOM)
    assert killed_at["step"] > 0  # really mid-epoch
    assert killed_at["seeds"]  # the dropout layers' seed states
    resumed = run_to_end(tmp_path / "killed", *RANDOM)
    assert f"epoch {killed_at['epoch'] + 1}, after step" in resumed.stderr
    run_to_end(tmp_path / "straight", *RANDOM)
    _, a, _, _ = runs.load_model(tmp_path / "killed")
    _, b, _, _ = runs.load_model(tmp_path / "straight")
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), atol=1e-6, err_msg=wa.path)


def compiled_tiny(*overrides):
    cfg = resolve("tiny", overrides=list(overrides))
    model = build_seq2seq(cfg.model, 10, 12)
    trainer.compile_model(model, cfg.train, steps_per_epoch=10)
    return model


def test_a_checkpoint_the_optimizer_does_not_fit_is_refused_not_skipped(tmp_path):
    """Keras only warns and leaves the optimizer at step 0 when a checkpoint's optimizer
    variables differ in number (written by another version or setup); a resumed run must
    not restart its schedule and warm-up silently."""
    adam = compiled_tiny("train.optimizer=adam", "train.warmup_steps=100")
    adam.optimizer.build(adam.trainable_variables)
    adam.optimizer.iterations.assign(7)
    (tmp_path / CHECKPOINT_DIR).mkdir()
    adam.save_weights(str(tmp_path / CHECKPOINT_DIR / "epoch000-step0000007.weights.h5"))
    (tmp_path / CHECKPOINT_DIR / STATE_FILE).write_text(json.dumps(
        {"epoch": 0, "step": 7, "weights": "epoch000-step0000007.weights.h5"}))

    same = compiled_tiny("train.optimizer=adam", "train.warmup_steps=100")
    assert trainer.restore(same, tmp_path) == Position(0, 7)
    assert int(same.optimizer.iterations.numpy()) == 7
    with pytest.raises(ValueError, match="does not fit this run's model and optimizer"):
        trainer.restore(compiled_tiny("train.optimizer=sgd"), tmp_path)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_together_and_stop(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        command = [sys.executable, "-m", "keras_s2s.cli", "train", "--preset", "tiny",
                   "--model-dir", str(tmp_path / f"worker{index}"), "--epochs", "1",
                   "--set", "data.task_size=200", "--set", "train.strategy=multi-worker"]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        outputs = [proc.communicate(timeout=300) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
    _, w0, _, _ = runs.load_model(tmp_path / "worker0")
    _, w1, _, _ = runs.load_model(tmp_path / "worker1")
    for a, b in zip(w0.weights, w1.weights):  # synchronous training: identical replicas
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
