"""Choosing a tf.distribute strategy and the compute precision."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from typing import Iterator

import keras
import tensorflow as tf

from keras_s2s.config import ConfigError, TrainConfig
from keras_s2s.train.precision import choose_precision

# The Keras policy of each `train.precision` (config.Precision: these and "auto").
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
# Sentences per replica that `cpu_replicas: auto` keeps: 2 x 32 was measured faster than one
# replica of 64 on 2 cores (docs/performance.md, "One replica per core").
MIN_REPLICA_BATCH = 32


def split_cpu(devices: int) -> None:
    """Splits the CPU into `devices` logical devices (before TF initialises), to run real
    multi-replica code on a machine without accelerators."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])


def use_cpu_replicas(count: int) -> None:
    """Runs one data-parallel replica per core: the CPU as `count` logical devices, every op
    on one thread (intra-op) and `count` ops at once (inter-op).

    On 2 cores this trains ~10 % faster than one replica whose ops each use both cores:
    each replica's small element-wise ops overlap the other's matmuls instead of waiting
    for the shared thread pool (docs/performance.md, "One replica per core").

    Raises:
        ConfigError: TensorFlow has already started its devices in another layout (the
            split must come before the first op).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) == count:
        return  # already split so (a test, or a second run in one process)
    try:
        split_cpu(count)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(count)
    except RuntimeError:  # TensorFlow's devices or thread pools already exist
        raise ConfigError(
            f"train.cpu_replicas={count} must take effect before TensorFlow starts, and "
            "this process has already started it. Set it in a new process, e.g. "
            f"`keras-s2s train --set train.cpu_replicas={count}`.") from None


def _workers_in_tf_config() -> int:
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


@dataclasses.dataclass(frozen=True)
class ReplicaChoice:
    """How many CPU replicas training runs (`train.cpu_replicas`), and why."""

    count: int
    reason: str


def _auto_replicas(train: TrainConfig) -> ReplicaChoice:
    """`cpu_replicas: auto`: one replica per core on a host without GPUs when every replica
    keeps at least `MIN_REPLICA_BATCH` sentences of the batch (what was measured), else 1."""
    cores = len(os.sched_getaffinity(0))
    batch = train.batch_size
    if train.strategy not in ("auto", "mirrored"):
        return ReplicaChoice(1, f"train.strategy {train.strategy}")
    if _workers_in_tf_config() > 1:
        return ReplicaChoice(1, f"TF_CONFIG names {_workers_in_tf_config()} workers, whose "
                             "devices are the replicas")
    if tf.config.list_physical_devices("GPU"):
        return ReplicaChoice(1, "the GPUs are the replicas")
    if cores < 2 or batch < cores * MIN_REPLICA_BATCH:
        return ReplicaChoice(1, f"{cores} core(s) and a batch of {batch}: one replica per core "
                             f"needs >= {MIN_REPLICA_BATCH} sentences each")
    try:
        use_cpu_replicas(cores)
    except ConfigError:
        return ReplicaChoice(1, "TensorFlow had already started in this process; a new "
                             f"process would run one per core ({cores})")
    return ReplicaChoice(cores, f"one per core: {cores} cores, no GPU, {batch // cores} "
                         "sentences each")


def set_up_cpu_replicas(train: TrainConfig) -> ReplicaChoice:
    """Chooses `train.cpu_replicas` ("auto" or a count) and splits the CPU for it: call this
    before TensorFlow's first op, then `make_strategy`.

    Raises:
        ConfigError: a count > 1 that cannot take effect: TensorFlow has already started, or
            `TF_CONFIG` names several workers (each worker's devices are its replicas).
    """
    if train.cpu_replicas == "auto":
        return _auto_replicas(train)
    count = int(train.cpu_replicas)
    if count > 1 and train.strategy == "auto" and _workers_in_tf_config() > 1:
        raise ConfigError(f"train.cpu_replicas={count} splits one machine's CPU, but TF_CONFIG "
                          f"names {_workers_in_tf_config()} workers, whose devices are the "
                          "replicas: leave train.cpu_replicas at auto or 1.")
    if count > 1 and tf.config.list_physical_devices("GPU"):
        return ReplicaChoice(1, f"train.cpu_replicas: {count} is for hosts without GPUs; "
                             "the GPUs are the replicas")
    if count > 1:
        use_cpu_replicas(count)
    return ReplicaChoice(count, f"train.cpu_replicas: {count}")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The strategy `train.strategy` names, over the devices as they are (after
    `set_up_cpu_replicas`).

    "auto": MultiWorkerMirroredStrategy when `TF_CONFIG` names several workers, else
    MirroredStrategy over all local GPUs, or over the (logical) CPUs when there is none.
    "mirrored", "multi-worker" and "one-device" force a choice.

    Logical CPUs sum their gradients on the first one (`ReductionToOneDevice`), not with
    TensorFlow's default for CPUs, a ring collective that first packs every gradient into
    one buffer per replica (docs/performance.md, "One replica per core").
    """
    if name == "multi-worker" or (name == "auto" and _workers_in_tf_config() > 1):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name in ("auto", "mirrored"):
        if not gpus and len(cpus) > 1:  # CPU replicas share one memory: sum in place
            return tf.distribute.MirroredStrategy(
                cpus, cross_device_ops=tf.distribute.ReductionToOneDevice(cpus[0]))
        return tf.distribute.MirroredStrategy(gpus or cpus)
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy((gpus or cpus)[0])
    raise ValueError(f"Unknown strategy {name!r}; use auto, mirrored, multi-worker or one-device.")


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[None]:
    """Layers built inside use the dtype policy of `precision` (fp32, bf16, fp16 or auto).

    Variables stay float32 under the mixed policies; the output projection and the loss are
    float32 by construction (see `build_seq2seq` and `SequenceLoss`). The global policy is
    put back afterwards, so later models (e.g. for inference) are float32.
    """
    precision = choose_precision(precision).precision  # "auto" → what the hardware has
    if precision not in POLICIES:
        raise ValueError(f"precision must be one of {tuple(POLICIES)}; received: {precision!r}.")
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
