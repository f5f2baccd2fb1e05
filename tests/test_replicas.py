"""`train.cpu_replicas`: what `auto` picks on which host, and what a count refuses."""

import json
import os

import pytest
import tensorflow as tf
from conftest import cli_process

from keras_s2s.config import ConfigError, resolve
from keras_s2s.train.distribute import MIN_REPLICA_BATCH, set_up_cpu_replicas


def _train(*overrides: str):
    return resolve(overrides=list(overrides)).train


@pytest.fixture
def cores(monkeypatch):
    """Sets the number of cores this process may run on, as `auto` reads it."""
    def set_cores(count: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(count)))
    return set_cores


@pytest.mark.parametrize("count, batch, words", [
    (1, 64, "1 core(s) and a batch of 64"),
    (4, 64, f"needs >= {MIN_REPLICA_BATCH} sentences each"),
    (2, 32, "2 core(s) and a batch of 32"),
])
def test_auto_keeps_one_replica_on_one_core_or_a_small_batch(cores, count, batch, words):
    cores(count)
    choice = set_up_cpu_replicas(_train(f"train.batch_size={batch}"))
    assert choice.count == 1 and words in choice.reason


def test_auto_keeps_one_replica_once_tensorflow_has_started_or_for_one_device(cores):
    cores(2)
    tf.constant(1.0)  # this process's devices exist, unsplit
    choice = set_up_cpu_replicas(_train("train.batch_size=64"))
    assert choice.count == 1 and "already started" in choice.reason
    choice = set_up_cpu_replicas(_train("train.strategy=one-device"))
    assert choice.count == 1 and "one-device" in choice.reason


def test_a_count_is_refused_when_tf_config_names_several_workers(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ConfigError, match="TF_CONFIG names 2 workers"):
        set_up_cpu_replicas(_train("train.cpu_replicas=2"))
    choice = set_up_cpu_replicas(_train())  # auto: the workers are the replicas
    assert choice.count == 1 and "2 workers" in choice.reason


@pytest.mark.parametrize("setting", ["auto", "2"])
def test_bench_train_runs_one_single_threaded_replica_each_in_a_new_process(setting):
    # A fresh interpreter: the CPU is split before TensorFlow starts.
    cores = len(os.sched_getaffinity(0))
    if setting == "auto" and cores < 2:
        pytest.skip("one core: auto keeps one replica (checked above)")
    count = cores if setting == "auto" else int(setting)
    out = cli_process("bench", "train", "--preset", "tiny", "--steps", "2", "--warmup", "1",
                      "--set", f"train.batch_size={MIN_REPLICA_BATCH * count}",
                      "--set", f"train.cpu_replicas={setting}", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["replicas"] == count and figures["tgt_tokens_per_s"] > 0
    assert str(figures["replicas_requested"]) == setting
    assert figures["threads"] == {"intra_op": 1, "inter_op": count}
    assert figures["peak_fp32_gflops"] > 0 and 0 < figures["mfu"] < 1
    if setting == "auto":
        assert "one per core" in figures["replicas_reason"]
