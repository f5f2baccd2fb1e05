"""Bad requests to the served API are the client's errors: INVALID_ARGUMENT with one line,
over real gRPC and REST on 127.0.0.1; the server logs every request; a taken port fails."""

import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest

from keras_s2s.export.saved_model import export_saved_model
from serving import client
from serving.server import Server


@pytest.fixture(scope="module")
def served(tiny_translator, tmp_path_factory):
    base = tmp_path_factory.mktemp("errors")
    export_saved_model(tiny_translator, base, "tiny")
    server = Server(str(base), "tiny", port=0, rest_port=0)
    yield server, base
    server.stop()


def _grpc_error(server, inputs, signature=""):
    with pytest.raises(grpc.RpcError) as info:
        client.predict(inputs, "127.0.0.1", server.port, "tiny", signature)
    return info.value


def _rest(server, body):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


NBEST = {"text": np.array(["12"], object), "n_best": np.int32(1)}
BAD = [
    ({"text": np.array([], object)}, "", "empty batch"),
    ({**NBEST, "beam_size": np.int32(0)}, "translate_nbest", "'beam_size' must be >= 1"),
    ({**NBEST, "beam_size": np.int32(-3)}, "translate_nbest", "received -3"),
    ({"text": np.array(["1"], object), "beam_size": np.int32(2), "n_best": np.int32(0)},
     "translate_nbest", "'n_best' must be >= 1"),
    ({"source": np.array(["1", "2"], object), "target": np.array(["un"], object)}, "score",
     "same number of rows"),
    ({"text": np.array([2 ** 40], np.int64)}, "", "must be string"),
]


@pytest.mark.parametrize("inputs, signature, message", BAD)
def test_bad_requests_are_invalid_argument_in_one_line_over_grpc(served, inputs, signature,
                                                                 message):
    server, _ = served
    error = _grpc_error(server, inputs, signature)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.details() and "\n" not in error.details()
    assert "node" not in error.details() and "Traceback" not in error.details()


@pytest.mark.parametrize("inputs, signature, message", BAD)
def test_the_same_requests_are_400_over_rest(served, inputs, signature, message):
    server, _ = served
    body = {"signature_name": signature,
            "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
    status, reply = _rest(server, body)
    assert status == 400 and message in reply["error"] and "\n" not in reply["error"]


def test_json_integers_reach_translate_nbest_over_rest(served):
    server, _ = served
    status, reply = _rest(server, {"signature_name": "translate_nbest",
                                   "inputs": {"text": ["12", "7"], "beam_size": 3,
                                              "n_best": 2}})
    assert status == 200, reply
    assert np.asarray(reply["outputs"]["translations"]).shape == (2, 2)
    status, reply = _rest(server, {"signature_name": "translate_nbest",
                                   "inputs": {"text": ["12"], "beam_size": 2 ** 40,
                                              "n_best": 1}})
    assert status == 400 and "int32" in reply["error"]


def test_every_request_is_logged_with_its_figures(served, caplog):
    server, _ = served
    with caplog.at_level(logging.INFO, logger="keras_s2s.serving"):
        client.translate(["12", "7"], port=server.port, model_name="tiny")
        _grpc_error(server, {"text": np.array([], object)})
    lines = [record.getMessage() for record in caplog.records]
    assert any("model=tiny version=1 signature=serving_default batch=2 status=OK ms=" in line
               for line in lines), lines
    assert any("status=INVALID_ARGUMENT" in line for line in lines)
    assert any(r.levelno == logging.WARNING and "empty batch" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("which", ["--port", "--rest-port"])
def test_a_second_server_on_a_taken_port_fails_at_start(served, which):
    server, base = served
    taken = server.port if which == "--port" else server.rest_port
    ports = {"--port": "0", "--rest-port": "0", which: str(taken)}
    result = subprocess.run([sys.executable, "-m", "keras_s2s.cli", "serve", "--base", str(base),
                             "--name", "tiny", *[x for kv in ports.items() for x in kv]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"127.0.0.1:{taken}" in result.stderr and "Traceback" not in result.stderr
    assert len(client.translate(["5"], port=server.port, model_name="tiny")) == 1
