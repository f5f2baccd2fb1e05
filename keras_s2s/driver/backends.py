"""The three back ends a `Driver` calls signatures on: a Translator, a SavedModel, a server.

Each one answers `call(signature, inputs) → outputs` with numpy arrays in and out, under the
signature and tensor names of `keras_s2s.constants`, exactly as TF Serving's `Predict` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

Arrays = dict[str, np.ndarray]


class BackendError(RuntimeError):
    """A back end that could not answer (a server that is down, an unknown model name)."""


class Backend(Protocol):
    """Runs one named signature of a translation model."""

    description: str  # what a message should call it, e.g. "SavedModel exports/m/1"

    def call(self, signature: str, inputs: Arrays) -> Arrays:
        """`inputs`: name → array (`[batch]` strings, int32 scalars) → output name → array."""
        ...


def _run(function, inputs: Arrays) -> Arrays:
    """Calls a `tf.function`/signature on numpy inputs and returns numpy outputs."""
    import tensorflow as tf  # here: the CLI imports this package before it needs TF

    outputs = function(**{key: tf.constant(value) for key, value in inputs.items()})
    return {key: value.numpy() for key, value in outputs.items()}


class TranslatorBackend:
    """An in-process `Translator` (one run or an ensemble of runs).

    Args:
        translator: a `keras_s2s.decode.translator.Translator`.
    """

    def __init__(self, translator):
        self.translator = translator  # a tf.function holds its owner weakly: keep it here
        self._functions = translator.signatures()
        self.description = "the in-process model"

    def call(self, signature: str, inputs: Arrays) -> Arrays:
        return _run(self._functions[signature], inputs)


class SavedModelBackend:
    """A SavedModel export reloaded in this process (a version folder, or a model base whose
    highest version is used). Loading it never imports `keras_s2s.model` or `train`.

    Args:
        path: the export.
    """

    def __init__(self, path: str | Path):
        from keras_s2s.export.saved_model import load_saved_model

        self.loaded = load_saved_model(path)  # owns the signatures' variables: keep it
        self._signatures = dict(self.loaded.signatures)
        self.description = f"SavedModel {path}"

    @property
    def replaces_unk(self) -> bool:
        """Whether the export was made with `decode.replace_unk` (older ones: no)."""
        flag = getattr(self.loaded, "replaces_unk", None)
        return bool(flag is not None and flag.numpy())

    def call(self, signature: str, inputs: Arrays) -> Arrays:
        if signature not in self._signatures:
            raise BackendError(f"{self.description} has no signature {signature!r} (it has "
                               f"{sorted(self._signatures)}); re-export it with this version.")
        return _run(self._signatures[signature], inputs)


def parse_address(address: str) -> tuple[str, int]:
    """`"HOST:PORT"` → `(host, port)`, or a ValueError that shows the expected form."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--server takes HOST:PORT (e.g. 127.0.0.1:8500); "
                         f"received: {address!r}.")
    return host, int(port)


class ServerBackend:
    """TensorFlow Serving (or the local development server) over gRPC, one open channel.

    Args:
        address: `HOST:PORT` of the gRPC port.
        model_name: the served model's name.
        timeout: seconds per request.
    """

    def __init__(self, address: str, model_name: str, timeout: float = 120.0):
        import grpc

        self.host, self.port = parse_address(address)
        self.model_name, self.timeout = model_name, timeout
        self._channel = grpc.insecure_channel(f"{self.host}:{self.port}")
        self.description = f"model {model_name!r} at {address}"

    def call(self, signature: str, inputs: Arrays) -> Arrays:
        import grpc

        from serving.client import predict

        try:
            return predict(inputs, self.host, self.port, self.model_name, signature,
                           self.timeout, channel=self._channel)
        except grpc.RpcError as err:
            detail = err.details() if hasattr(err, "details") else str(err)
            code = err.code().name if hasattr(err, "code") else "UNKNOWN"
            hint = (" Is the server running? Start one with `keras-s2s serve`."
                    if code == "UNAVAILABLE" else "")
            raise BackendError(f"{self.description} answered {code}: "
                               f"{(detail or '').splitlines()[0] if detail else ''}{hint}"
                               ) from None

    def close(self) -> None:
        self._channel.close()
