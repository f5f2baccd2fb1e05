"""The development server over real loopback gRPC/REST with tensorflow-serving-api stubs."""

import json
import threading
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_s2s.driver import Driver, ServerBackend, TranslatorBackend
from keras_s2s.export.saved_model import export_saved_model
from serving import client
from serving.server import Server

TEXTS = ["12", "3 400", "", "999,999", "7"]


@pytest.fixture(scope="module")
def served(tiny_translator, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    export_saved_model(tiny_translator, base, "tiny")
    server = Server(str(base), "tiny", port=0, rest_port=0, poll_seconds=0.2)
    yield server, base
    server.stop()


def raw_predict(server, inputs, signature="", name="tiny", version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request,
                                                                                  timeout=60)


def test_grpc_and_rest_match_in_process(served, tiny_translator):
    server, _ = served
    expected, _ = Driver(TranslatorBackend(tiny_translator)).translate(TEXTS)
    assert client.translate(TEXTS, port=server.port, model_name="tiny") == expected
    assert client.translate_rest(TEXTS, port=server.rest_port, model_name="tiny") == expected
    nbest = client.predict({"text": ["12"], "beam_size": np.int32(3), "n_best": np.int32(2)},
                           "127.0.0.1", server.port, "tiny", "translate_nbest")
    assert nbest["translations"].shape == (1, 2)
    # Token scores travel too: the same pieces and log-probs as in process.
    local = Driver(TranslatorBackend(tiny_translator)).nbest(TEXTS, 2, 3)
    remote = Driver(ServerBackend(f"127.0.0.1:{server.port}", "tiny")).nbest(TEXTS, 2, 3)
    assert [[h.tokens for h in hyps] for hyps in remote] == \
        [[h.tokens for h in hyps] for hyps in local]
    assert all(h.tokens and h.tokens[-1][0] == "</s>" for hyps in remote for h in hyps)


@pytest.mark.parametrize("inputs, signature, name, version, code", [
    ({}, "", "tiny", None, grpc.StatusCode.INVALID_ARGUMENT),  # missing input
    ({"text": np.array([1, 2], np.int32)}, "", "tiny", None, grpc.StatusCode.INVALID_ARGUMENT),
    ({"text": np.array([["a"]], object)}, "", "tiny", None, grpc.StatusCode.INVALID_ARGUMENT),
    ({"text": ["a"], "extra": ["b"]}, "", "tiny", None, grpc.StatusCode.INVALID_ARGUMENT),
    ({"text": ["a"]}, "nope", "tiny", None, grpc.StatusCode.NOT_FOUND),
    ({"text": ["a"]}, "", "other", None, grpc.StatusCode.NOT_FOUND),
    ({"text": ["a"]}, "", "tiny", 99, grpc.StatusCode.NOT_FOUND),
])
def test_bad_requests_get_tf_serving_status_and_server_survives(served, inputs, signature,
                                                                name, version, code):
    server, _ = served
    with pytest.raises(grpc.RpcError) as info:
        raw_predict(server, inputs, signature, name, version)
    assert info.value.code() == code and info.value.details()
    assert len(client.translate(["5"], port=server.port, model_name="tiny")) == 1


def test_hostile_inputs_are_served(served):
    server, _ = served
    long_text = " ".join(["1"] * 10_000)
    out = raw_predict(server, {"text": np.array([b"", long_text.encode(), b"\xff\xfe12"],
                                                object)})
    assert tf.make_ndarray(out.outputs["translation"]).shape == (3,)
    errors = 0
    for i in range(30):  # a burst of garbage
        try:
            raw_predict(server, {"text": np.array([i], np.float32)})
        except grpc.RpcError:
            errors += 1
    assert errors == 30
    assert len(client.translate(["42"], port=server.port, model_name="tiny")) == 1


def test_metadata_status_and_rest_routes(served):
    server, _ = served
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = "tiny"
        meta = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(request)
        defs = get_model_metadata_pb2.SignatureDefMap()
        meta.metadata["signature_def"].Unpack(defs)
        assert {"serving_default", "translate_nbest", "score"} <= set(defs.signature_def)
        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = "tiny"
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request)
        assert status.model_version_status[0].state == \
            get_model_status_pb2.ModelVersionStatus.AVAILABLE
    base = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny"
    status_json = json.loads(urllib.request.urlopen(base, timeout=10).read())
    assert status_json["model_version_status"][0]["state"] == "AVAILABLE"
    meta_json = json.loads(urllib.request.urlopen(base + "/metadata", timeout=10).read())
    assert "serving_default" in meta_json["metadata"]["signature_def"]["signature_def"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(base + ":predict", data=b"{bad json"),
                               timeout=10)
    assert info.value.code == 400


def test_concurrent_requests_are_batched_and_correct(served, tiny_translator):
    server, _ = served
    texts = [str(n) for n in range(40)]
    expected, _ = Driver(TranslatorBackend(tiny_translator)).translate(texts)
    results = [None] * len(texts)

    def call(i):
        results[i] = client.translate([texts[i]], port=server.port, model_name="tiny")[0]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == expected


def test_new_version_is_served_without_restart(served, tiny_translator):
    server, base = served
    before = server.registry.get("tiny", None)[0]
    export_saved_model(tiny_translator, base, "tiny")
    for _ in range(100):
        if server.registry.get("tiny", None)[0] > before:
            break
        threading.Event().wait(0.1)
    out = raw_predict(server, {"text": ["12"]})
    assert out.model_spec.version.value == before + 1


def test_warmup_requests_and_server_configs(served, tmp_path, tiny_run, capsys):
    from tensorflow_serving.apis import prediction_log_pb2

    from keras_s2s import cli

    _, base = served
    warmup = base / "tiny" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(str(warmup))]
    assert logs and logs[0].predict_log.request.model_spec.signature_name == "serving_default"
    assert cli.main(["export", "--model-dir", str(tiny_run), str(tiny_run), "--base",
                     str(tmp_path), "--name", "m", "--beam-size", "2"]) == 0  # an ensemble
    assert 'name: "m"' in (tmp_path / "models.config").read_text()
    assert "max_batch_size" in (tmp_path / "batching_parameters.txt").read_text()


def test_serve_command_translate_server_and_sigterm(served, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    _, base = served
    proc = subprocess.Popen([sys.executable, "-m", "keras_s2s.cli", "serve", "--base", str(base),
                             "--name", "tiny", "--port", "0", "--rest-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["grpc"].startswith("127.0.0.1:") and "development" in info["note"]
        out = subprocess.run([sys.executable, "-m", "keras_s2s.cli", "translate", "--server",
                              info["grpc"], "--model-name", "tiny"], input="12\n7\n",
                             capture_output=True, text=True, timeout=120, check=True)
        assert len(out.stdout.splitlines()) == 2
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_bench_serve_reports_latency_and_batching(served):
    from keras_s2s.bench.serve import bench_serve

    _, base = served
    figures = bench_serve(str(base), "tiny", clients=4, requests=24)
    assert figures["errors"] == 0 and figures["errors_unbatched"] == 0
    assert figures["p50_ms"] > 0 and figures["p99_ms"] >= figures["p50_ms"]
    assert figures["ok"] == 24


def test_server_imports_no_model_train_or_decode_code():
    import subprocess
    import sys

    script = ("import sys, serving.server, serving.client; "
              "print(sorted(m for m in sys.modules if m.startswith(('keras_s2s.model', "
              "'keras_s2s.train', 'keras_s2s.decode'))))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"
