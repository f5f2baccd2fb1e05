"""Versioned SavedModels for the development server: load them, watch for new versions.

This module loads exported SavedModels only; it never imports `keras_s2s.model`, `train` or
`decode`, exactly like TensorFlow Serving.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


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
