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

from keras_s2s.constants import INPUT_BEAM_SIZE, INPUT_N_BEST

COUNT_INPUTS = (INPUT_BEAM_SIZE, INPUT_N_BEST)  # scalar sizes that must be >= 1


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
        """Runs a signature on tensors `validate` has already checked; an error the graph
        raises on the request's values is INVALID_ARGUMENT with its first line only."""
        try:
            return {k: v.numpy() for k, v in self.signatures[signature](**tensors).items()}
        except tf.errors.InvalidArgumentError as err:
            raise ServingError("INVALID_ARGUMENT", _first_line(err.message)) from None

    def validate(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, tf.Tensor]:
        """The request's tensors, if they match the signature's names, dtypes and shapes.

        As TF Serving's REST API does with JSON numbers, an integer input of another integer
        dtype is converted when its values fit; every `[batch]` input must hold the same,
        non-zero number of rows.
        """
        if signature not in self.signatures:
            raise ServingError("NOT_FOUND", f"Serving signature '{signature}' not found; "
                               f"available: {sorted(self.signatures)}.")
        specs = self.signatures[signature].structured_input_signature[1]
        missing = sorted(set(specs) - set(inputs))
        extra = sorted(set(inputs) - set(specs))
        if missing or extra:
            raise ServingError("INVALID_ARGUMENT", f"Signature '{signature}' takes inputs "
                               f"{sorted(specs)}; missing {missing}, unexpected {extra}.")
        tensors = {name: _tensor(name, np.asarray(inputs[name]), spec)
                   for name, spec in specs.items()}
        _check_rows(signature, {name: t for name, t in tensors.items() if t.shape.rank})
        return tensors


def _first_line(message: str) -> str:
    """The part of a TF error message a client can act on (no graph or node internals)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    internals = ("Graph execution error", "Detected at node", "[[")
    useful = [line for line in lines if not line.startswith(internals)]
    return (useful or lines or ["invalid argument"])[0].split(" [[")[0]


def _tensor(name: str, value: np.ndarray, spec: tf.TensorSpec) -> tf.Tensor:
    """`value` as a tensor of the spec's dtype and shape, or INVALID_ARGUMENT saying why."""
    kind = value.dtype.kind
    if value.size == 0 and spec.shape.is_compatible_with(value.shape):
        return tf.zeros(value.shape, spec.dtype)  # JSON's [] has no dtype; `_check_rows` decides
    if spec.dtype == tf.string:
        ok = kind in "SOU"
    elif spec.dtype.is_integer:
        info = np.iinfo(spec.dtype.as_numpy_dtype)
        ok = kind in "iu" and info.min <= value.min() <= value.max() <= info.max
    else:
        ok = kind in "iuf"
    if not ok:
        raise ServingError("INVALID_ARGUMENT", f"Input '{name}' must be {spec.dtype.name}; "
                           f"received {value.dtype} {value.tolist()!r:.80}.")
    if not spec.shape.is_compatible_with(value.shape):
        raise ServingError("INVALID_ARGUMENT", f"Input '{name}' must have shape "
                           f"{spec.shape}; received {list(value.shape)}.")
    if name in COUNT_INPUTS and (value < 1).any():
        raise ServingError("INVALID_ARGUMENT", f"Input '{name}' must be >= 1; received "
                           f"{value.tolist()}.")
    return tf.constant(value, dtype=spec.dtype)


def _check_rows(signature: str, batched: dict[str, tf.Tensor]) -> None:
    """Every `[batch, ...]` input holds the same number of rows, and at least one."""
    rows = {name: int(t.shape[0]) for name, t in batched.items()}
    if len(set(rows.values())) > 1:
        raise ServingError("INVALID_ARGUMENT", f"Signature '{signature}' needs the same "
                           f"number of rows in every input; received {rows}.")
    if 0 in rows.values():
        raise ServingError("INVALID_ARGUMENT", f"Signature '{signature}' received an empty "
                           "batch; send at least one sentence.")


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
        """Stops the watcher and waits for it: a daemon thread still inside TensorFlow's C++
        when the interpreter exits aborts the process ("FATAL: exception not rethrown")."""
        self._stop.set()
        self._thread.join()
