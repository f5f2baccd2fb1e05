"""Versioned SavedModels for the development server: load, watch for new versions, batch.

This module loads exported SavedModels only; it never imports `keras_s2s.model`, `train` or
`decode`, exactly like TensorFlow Serving.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from keras_s2s.constants import SERVING_DEFAULT


class ServingError(Exception):
    """A request the server rejects; `code` is the gRPC status name TF Serving would use."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def versions_in(model_base: Path) -> list[int]:
    """Numeric version folders holding a complete SavedModel, ascending."""
    if not model_base.is_dir():
        return []
    return sorted(int(p.name) for p in model_base.iterdir()
                  if p.name.isdigit() and (p / "saved_model.pb").is_file())


class LoadedVersion:
    """One loaded version: its signatures as callables and as `SignatureDef` protos."""

    def __init__(self, path: Path):
        import tensorflow_text  # noqa: F401  (registers TF-Text ops, as TF Serving links them)

        self.path = path
        self.module = tf.saved_model.load(str(path))
        self.signatures = dict(self.module.signatures)
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
        self.signature_defs = dict(proto.meta_graphs[0].signature_def)

    def run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validates `inputs` against the signature (INVALID_ARGUMENT) and runs it."""
        return self.call(signature, self.validate(signature, inputs))

    def call(self, signature: str, tensors: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
        """Runs a signature on tensors `validate` has already checked."""
        return {k: v.numpy() for k, v in self.signatures[signature](**tensors).items()}

    def validate(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, tf.Tensor]:
        """The request's tensors, if they match the signature's names, dtypes and shapes."""
        if signature not in self.signatures:
            raise ServingError("NOT_FOUND", f"Serving signature '{signature}' not found; "
                               f"available: {sorted(self.signatures)}.")
        specs = self.signatures[signature].structured_input_signature[1]
        missing = sorted(set(specs) - set(inputs))
        extra = sorted(set(inputs) - set(specs))
        if missing or extra:
            raise ServingError("INVALID_ARGUMENT", f"Signature '{signature}' takes inputs "
                               f"{sorted(specs)}; missing {missing}, unexpected {extra}.")
        tensors = {}
        for name, spec in specs.items():
            value = inputs[name]
            if tf.as_dtype(value.dtype) != spec.dtype and not (
                    spec.dtype == tf.string and value.dtype.kind in "SO"):
                raise ServingError("INVALID_ARGUMENT", f"Input '{name}' must be "
                                   f"{spec.dtype.name}; received {value.dtype}.")
            if not spec.shape.is_compatible_with(value.shape):
                raise ServingError("INVALID_ARGUMENT", f"Input '{name}' must have shape "
                                   f"{spec.shape}; received {list(value.shape)}.")
            tensors[name] = tf.constant(value, dtype=spec.dtype)
        return tensors


class ModelRegistry:
    """Serves `base/name/<version>`: the highest version by default, new ones picked up live.

    Args:
        base: the model base path (as TF Serving's `--model_base_path` parent).
        name: the model name (a folder under `base`).
        poll_seconds: how often to look for new version folders.
    """

    def __init__(self, base: str | Path, name: str, poll_seconds: float = 1.0):
        self.name = name
        self.model_base = Path(base) / name
        self.poll_seconds = poll_seconds
        self.versions: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.refresh()
        if not self.versions:
            raise FileNotFoundError(f"No servable version under {self.model_base}: export one "
                                    "with `keras-s2s export --base BASE --name NAME`.")
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        """Loads the highest version if it is new (older loaded versions stay available)."""
        found = versions_in(self.model_base)
        if found and found[-1] not in self.versions:
            loaded = LoadedVersion(self.model_base / str(found[-1]))
            with self._lock:
                self.versions[found[-1]] = loaded

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as err:  # a broken version must not stop serving the others
                print(f"[serving] could not load a new version: {err}", flush=True)

    def get(self, name: str, version: int | None) -> tuple[int, LoadedVersion]:
        """The requested version (the highest when None), or NOT_FOUND."""
        if name != self.name:
            raise ServingError("NOT_FOUND", f"Servable not found for request: model '{name}' "
                               f"(this server serves '{self.name}').")
        with self._lock:
            if not version:
                version = max(self.versions)
            if version not in self.versions:
                raise ServingError("NOT_FOUND", f"Model '{name}' has no loaded version "
                                   f"{version}; available: {sorted(self.versions)}.")
            return version, self.versions[version]

    def close(self) -> None:
        self._stop.set()


class _Request(NamedTuple):
    """One caller's request waiting in the batcher's queue."""

    loaded: LoadedVersion
    signature: str
    tensors: dict[str, tf.Tensor]  # each `[size, ...]`
    size: int  # sentences in this request
    future: Future  # the caller waits on it: its outputs, or the error of its group

    def joins(self, other: "_Request") -> bool:
        """Whether `other` can run in the same call as this request."""
        return other.loaded is self.loaded and other.signature == self.signature and \
            set(other.tensors) == set(self.tensors)


class Batcher:
    """Merges concurrent requests to the same signature into one call along the batch axis.

    Only signatures whose inputs all have a leading batch axis are merged (`translate`,
    `translate_greedy`, `score`); the rest run one at a time.

    Args:
        max_batch_size: most sentences per merged call (1 disables batching).
        timeout_s: how long the first request waits for company.
    """

    def __init__(self, max_batch_size: int = 64, timeout_s: float = 0.005):
        self.max_batch_size, self.timeout_s = max_batch_size, timeout_s
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def batchable(loaded: LoadedVersion, signature: str) -> bool:
        specs = loaded.signatures[signature].structured_input_signature[1]
        return all(spec.shape.rank == 1 for spec in specs.values())

    def submit(self, loaded: LoadedVersion, signature: str, inputs: dict[str, np.ndarray]):
        """Runs `signature` on `inputs`, merged with concurrent requests when possible."""
        tensors = loaded.validate(signature, inputs)  # a bad request fails alone, unmerged
        if self.max_batch_size <= 1 or not self.batchable(loaded, signature):
            return loaded.call(signature, tensors)
        sizes = {int(t.shape[0]) for t in tensors.values()}
        if len(sizes) != 1:
            return loaded.call(signature, tensors)  # let the signature report the mismatch
        request = _Request(loaded, signature, tensors, sizes.pop(), Future())
        self._queue.put(request)
        return request.future.result()  # raises the group's error, if any

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            group, size, others = [first], first.size, []
            while size < self.max_batch_size:
                try:
                    request = self._queue.get(timeout=self.timeout_s)
                except queue.Empty:
                    break
                if first.joins(request) and size + request.size <= self.max_batch_size:
                    group.append(request)
                    size += request.size
                else:
                    others.append(request)
            self._run_group(group)
            for request in others:
                self._run_group([request])

    @staticmethod
    def _run_group(group: list[_Request]) -> None:
        """One call for the whole group; each request's future gets its slice of the outputs."""
        first = group[0]
        try:
            merged = {k: tf.concat([r.tensors[k] for r in group], axis=0) for k in first.tensors}
            outputs = first.loaded.call(first.signature, merged)
        except Exception as err:  # every waiting request gets the error
            for request in group:
                request.future.set_exception(err)
            return
        start = 0
        for request in group:
            request.future.set_result({k: v[start:start + request.size]
                                       for k, v in outputs.items()})
            start += request.size


def predict(registry: ModelRegistry, batcher: Batcher, name: str, version: int | None,
            signature: str, inputs: dict[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]]:
    """Shared by gRPC and REST: resolves the model version and runs the signature (an empty
    name means `serving_default`, as in TF Serving)."""
    number, loaded = registry.get(name, version)
    return number, batcher.submit(loaded, signature or SERVING_DEFAULT, inputs)
