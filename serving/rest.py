"""TF Serving's REST routes for the development server: `:predict`, status and metadata."""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

import numpy as np
from google.protobuf import json_format

from keras_s2s.constants import INPUT_TEXT
from serving.batching import predict
from serving.registry import ServingError

ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                   r"(?P<tail>:predict|/metadata)?$")
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "INTERNAL": 500}


def _to_json(value: np.ndarray):
    if value.dtype.kind in "SO":
        return np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes)
                            else b, otypes=[object])(value).tolist()
    return value.tolist()


def _inputs(body: dict) -> tuple[dict[str, np.ndarray], bool]:
    """Columnar `{"inputs": ...}` or row `{"instances": [...]}` → arrays, and whether rows."""
    if "inputs" in body:
        data, rows = body["inputs"], False
    elif "instances" in body:
        data, rows = body["instances"], True
        if data and isinstance(data[0], dict):
            data = {k: [row[k] for row in data] for k in data[0]}
    else:
        raise ServingError("INVALID_ARGUMENT", 'The request body needs "inputs" or "instances".')
    if not isinstance(data, dict):
        data = {INPUT_TEXT: data}  # a single unnamed input: the translate signatures' text
    arrays = {}
    for key, value in data.items():
        try:
            array = np.array(value)
        except ValueError as err:  # e.g. rows of different lengths
            raise ServingError("INVALID_ARGUMENT", f"Input '{key}' is not a tensor: {err}"
                               ) from None
        arrays[key] = array.astype(object) if array.dtype.kind == "U" else array
    return arrays, rows


def make_handler(server):
    """A request handler class bound to a `serving.server.Server` (its registry, batcher)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test and bench output quiet
            pass

        def _reply(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self):
            match = ROUTE.match(self.path)
            if not match:
                raise ServingError("NOT_FOUND", f"No route {self.path}; use "
                                   "/v1/models/NAME[/versions/N][:predict|/metadata].")
            version = int(match["version"]) if match["version"] else None
            return match["name"], version, match["tail"]

        def do_GET(self):  # noqa: N802
            try:
                name, version, tail = self._route()
                number, loaded = server.registry.get(name, version)
                if tail == "/metadata":
                    defs = {k: json_format.MessageToDict(v)
                            for k, v in loaded.signature_defs.items()}
                    return self._reply(200, {
                        "model_spec": {"name": name, "version": str(number)},
                        "metadata": {"signature_def": {"signature_def": defs}}})
                versions = [version] if version else sorted(server.registry.versions)
                return self._reply(200, {"model_version_status": [
                    {"version": str(v), "state": "AVAILABLE",
                     "status": {"error_code": "OK", "error_message": ""}} for v in versions]})
            except ServingError as err:
                self._reply(HTTP_STATUS.get(err.code, 500), {"error": str(err)})

        def do_POST(self):  # noqa: N802
            try:
                name, version, tail = self._route()
                if tail != ":predict":
                    raise ServingError("NOT_FOUND", f"POST goes to :predict; received {self.path}.")
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise ServingError("INVALID_ARGUMENT", f"The body is not JSON: {err}") from None
                inputs, rows = _inputs(body)
                _, outputs = predict(server.registry, server.batcher, name, version,
                                     body.get("signature_name", ""), inputs)
                result = {k: _to_json(v) for k, v in outputs.items()}
                if rows:
                    keys = sorted(result)
                    return self._reply(200, {"predictions": [dict(zip(keys, row)) for row in
                                                             zip(*(result[k] for k in keys))]})
                self._reply(200, {"outputs": result})
            except ServingError as err:
                self._reply(HTTP_STATUS.get(err.code, 500), {"error": str(err)})
            except Exception as err:  # a server fault (request errors are ServingErrors)
                self._reply(500, {"error": f"{type(err).__name__}: {err}"})

    return Handler
