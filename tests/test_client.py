"""The gRPC and REST clients against the development server on 127.0.0.1 (port 0)."""

import grpc
import numpy as np
import pytest

from keras_s2s.export.saved_model import export_saved_model
from serving import client
from serving.server import Server


@pytest.fixture(scope="module")
def server(tiny_translator, tmp_path_factory):
    base = tmp_path_factory.mktemp("client")
    export_saved_model(tiny_translator, base, "tiny")
    export_saved_model(tiny_translator, base, "tiny")  # 1 and 2: the latest is served
    running = Server(str(base), "tiny", port=0, rest_port=0)
    yield running
    running.stop()


def test_translate_over_grpc_and_rest_agree(server):
    texts = ["12", "", "3 400"]
    over_grpc = client.translate(texts, port=server.port, model_name="tiny")
    assert over_grpc == client.translate_rest(texts, port=server.rest_port, model_name="tiny")
    assert len(over_grpc) == 3 and all(isinstance(t, str) for t in over_grpc)


def test_predict_any_signature_version_and_reused_channel(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        scored = client.predict({"source": ["12"], "target": ["douze"]}, "127.0.0.1",
                                server.port, "tiny", "score", channel=channel)
        nbest = client.predict({"text": ["7"], "beam_size": np.int32(2),
                                "n_best": np.int32(2)}, "127.0.0.1", server.port, "tiny",
                               "translate_nbest", version=2, channel=channel)
    assert scored["log_prob"].shape == (1,) and scored["num_tokens"][0] >= 1
    assert nbest["translations"].shape == (1, 2)


def test_errors_carry_the_servers_status(server):
    with pytest.raises(grpc.RpcError) as info:
        client.predict({"text": ["1"]}, "127.0.0.1", server.port, "tiny", version=9)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and "9" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        client.translate(["1"], port=server.port, model_name="tiny", signature="nope")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
