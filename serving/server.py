"""A development/test stand-in for TensorFlow Serving: same gRPC and REST API, loopback only.

NOT for production: production serves the same export with the real TensorFlow Serving
binary or image (see serving/README.md). This server exists because that binary cannot be
installed here; it implements `PredictionService.Predict`, `GetModelMetadata` and
`ModelService.GetModelStatus` with `tensorflow-serving-api`'s servicer classes, plus the REST
`:predict`, metadata and status routes, over SavedModels only.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from concurrent import futures
from http.server import ThreadingHTTPServer

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_s2s.constants import SERVING_DEFAULT
from serving.batching import Batcher, predict
from serving.registry import ModelRegistry, ServingError
from serving.rest import make_handler


def _abort(context: grpc.ServicerContext, err: ServingError) -> None:
    context.abort(getattr(grpc.StatusCode, err.code), str(err))


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` as TF Serving answers them."""

    def __init__(self, registry: ModelRegistry, batcher: Batcher):
        self.registry, self.batcher = registry, batcher

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        try:
            inputs = {}
            for key, proto in request.inputs.items():
                try:
                    inputs[key] = tf.make_ndarray(proto)
                except Exception as err:
                    raise ServingError("INVALID_ARGUMENT", f"Input '{key}' is not a valid "
                                       f"TensorProto: {err}") from None
            version, outputs = predict(self.registry, self.batcher, request.model_spec.name,
                                       request.model_spec.version.value or None,
                                       request.model_spec.signature_name, inputs)
        except ServingError as err:
            return _abort(context, err)
        except Exception as err:  # a server fault: one line, no Python internals
            return _abort(context, ServingError("INTERNAL", f"{type(err).__name__}: {err}"))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = request.model_spec.signature_name or SERVING_DEFAULT
        wanted = set(request.output_filter) or set(outputs)
        for key, value in outputs.items():
            if key in wanted:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            if list(request.metadata_field) not in ([], ["signature_def"]):
                raise ServingError("INVALID_ARGUMENT", "Only metadata_field 'signature_def' "
                                   f"exists; received {list(request.metadata_field)}.")
            version, loaded = self.registry.get(request.model_spec.name,
                                                request.model_spec.version.value or None)
        except ServingError as err:
            return _abort(context, err)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        defs = get_model_metadata_pb2.SignatureDefMap()
        for key, value in loaded.signature_defs.items():
            defs.signature_def[key].CopyFrom(value)
        response.metadata["signature_def"].Pack(defs)
        return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus`: every loaded version is AVAILABLE."""

    def __init__(self, registry: ModelRegistry):
        self.registry = registry

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            self.registry.get(request.model_spec.name, request.model_spec.version.value or None)
        except ServingError as err:
            return _abort(context, err)
        response = get_model_status_pb2.GetModelStatusResponse()
        wanted = request.model_spec.version.value
        for version in sorted(self.registry.versions):
            if wanted and version != wanted:
                continue
            status = response.model_version_status.add()
            status.version = version
            status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


class Server:
    """The gRPC and REST servers around one model; `stop()` or SIGTERM ends them cleanly.

    Args:
        base, name: where the model's version folders live.
        host: the address to bind (loopback by default; the server has no authentication).
        port, rest_port: 0 picks a free port (see `.port`, `.rest_port`); rest_port None = no REST.
        max_batch_size: server-side batching of concurrent requests (1 = off).
    """

    def __init__(self, base: str, name: str, host: str = "127.0.0.1", port: int = 8500,
                 rest_port: int | None = 8501, max_batch_size: int = 64,
                 poll_seconds: float = 1.0):
        self.registry = ModelRegistry(base, name, poll_seconds)
        self.batcher = Batcher(max_batch_size)
        # No SO_REUSEPORT: a second server on a taken port must fail, not share its traffic.
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=32),
                                options=[("grpc.so_reuseport", 0)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.registry, self.batcher), self.grpc)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.registry), self.grpc)
        self.http, self.stopped = None, threading.Event()
        self.port = self._bind_grpc(host, port)
        self.grpc.start()
        if rest_port is not None:
            try:
                self.http = ThreadingHTTPServer((host, rest_port), make_handler(self))
            except OSError as err:
                self.stop(grace=0)
                raise OSError(f"Cannot serve REST on {host}:{rest_port}: {err.strerror}. "
                              "Another server holds the port? Pass another --rest-port "
                              "(0 picks a free one).") from None
            self.rest_port = self.http.server_address[1]
            threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def _bind_grpc(self, host: str, port: int) -> int:
        """Binds the gRPC port, or an OSError naming it (gRPC returns 0 when it cannot)."""
        try:
            bound = self.grpc.add_insecure_port(f"{host}:{port}")
        except RuntimeError:
            bound = 0
        if bound == 0:
            self.registry.close()
            raise OSError(f"Cannot serve gRPC on {host}:{port}: the port is taken (or the "
                          "address is not this machine's). Pass another --port (0 picks a "
                          "free one).")
        return bound

    def stop(self, grace: float = 2.0) -> None:
        self.grpc.stop(grace).wait()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        self.registry.close()
        self.stopped.set()

    def wait(self) -> None:
        """Blocks until SIGTERM/SIGINT (then stops cleanly) or `stop()`."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: threading.Thread(target=self.stop).start())
        self.stopped.wait()


def serve(base: str, name: str, host: str, port: int, rest_port: int | None,
          max_batch_size: int = 64, log_level: str = "INFO") -> None:
    """Runs the development server until SIGTERM; prints where it listens (stdout) and logs
    one line per request and every error (stderr, at `log_level`)."""
    logging.basicConfig(level=log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server(base, name, host, port, rest_port, max_batch_size)
    print(json.dumps({"serving": name, "grpc": f"{host}:{server.port}",
                      "rest": f"{host}:{server.rest_port}" if server.http else None,
                      "versions": sorted(server.registry.versions),
                      "note": "development/test server; production uses TensorFlow Serving"}),
          flush=True)
    server.wait()
