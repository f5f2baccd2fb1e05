"""Clients for TensorFlow Serving (and the local development server): gRPC and REST."""

from __future__ import annotations

import json
import urllib.request
from typing import Sequence

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_s2s.constants import INPUT_TEXT, OUTPUT_TRANSLATION, SERVING_DEFAULT


def predict(inputs: dict, host: str, port: int, model_name: str,
            signature: str = SERVING_DEFAULT, timeout: float = 30.0,
            version: int | None = None, channel: grpc.Channel | None = None) -> dict:
    """One gRPC `Predict` call with `PredictionServiceStub`.

    Args:
        inputs: input name → array-like (e.g. `{"text": ["A man."]}`).
        host, port: the server (TF Serving's gRPC port, 8500 by default).
        model_name: the served model's name.
        signature: the signature name ("" or "serving_default" for the default).
        timeout: seconds before the call fails with DEADLINE_EXCEEDED.
        version: a specific version (the highest when None).
        channel: reuse an open channel (many calls); one is opened and closed otherwise.

    Returns:
        Output name → numpy array.

    Raises:
        grpc.RpcError: with the server's status code (INVALID_ARGUMENT, NOT_FOUND, …).
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    own = channel is None
    channel = channel or grpc.insecure_channel(f"{host}:{port}")
    try:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=timeout)
    finally:
        if own:
            channel.close()
    return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}


def translate(texts: Sequence[str], host: str = "127.0.0.1", port: int = 8500,
              model_name: str = "keras_s2s", signature: str = SERVING_DEFAULT,
              timeout: float = 30.0, channel: grpc.Channel | None = None) -> list[str]:
    """Translates sentences over gRPC; returns one string per input."""
    outputs = predict({INPUT_TEXT: list(texts)}, host, port, model_name, signature, timeout,
                      channel=channel)
    return [b.decode("utf-8", "replace") for b in outputs[OUTPUT_TRANSLATION].tolist()]


def translate_rest(texts: Sequence[str], host: str = "127.0.0.1", port: int = 8501,
                   model_name: str = "keras_s2s", signature: str = SERVING_DEFAULT,
                   timeout: float = 30.0) -> list[str]:
    """Translates sentences with the REST API (`POST /v1/models/NAME:predict`)."""
    body = json.dumps({"signature_name": signature, "inputs": {INPUT_TEXT: list(texts)}})
    request = urllib.request.Request(f"http://{host}:{port}/v1/models/{model_name}:predict",
                                     data=body.encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())["outputs"][OUTPUT_TRANSLATION]
