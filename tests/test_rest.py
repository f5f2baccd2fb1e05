"""The REST side of the development server, as pure functions: routes, bodies, JSON values."""

import numpy as np
import pytest

from serving.registry import ServingError
from serving.rest import ROUTE, _inputs, _to_json


@pytest.mark.parametrize("path, name, version, tail", [
    ("/v1/models/m", "m", None, None),
    ("/v1/models/m:predict", "m", None, ":predict"),
    ("/v1/models/m/versions/3:predict", "m", "3", ":predict"),
    ("/v1/models/m/versions/12/metadata", "m", "12", "/metadata"),
    ("/v1/models/m/metadata", "m", None, "/metadata"),
])
def test_routes_of_tf_serving(path, name, version, tail):
    match = ROUTE.match(path)
    assert (match["name"], match["version"], match["tail"]) == (name, version, tail)


@pytest.mark.parametrize("path", ["/v2/models/m", "/v1/models/", "/v1/models/m:classify",
                                  "/v1/models/m/versions/x"])
def test_other_paths_do_not_match(path):
    assert ROUTE.match(path) is None


def test_columnar_inputs_become_arrays():
    arrays, rows = _inputs({"inputs": {"text": ["a", "b"], "beam_size": 3}})
    assert not rows
    assert arrays["text"].dtype == object and arrays["text"].tolist() == ["a", "b"]
    assert arrays["beam_size"].shape == () and int(arrays["beam_size"]) == 3


def test_a_bare_list_is_the_text_input():
    arrays, rows = _inputs({"inputs": ["a", "b"]})
    assert list(arrays) == ["text"] and not rows


def test_row_instances_are_turned_into_columns():
    arrays, rows = _inputs({"instances": [{"source": "a", "target": "x"},
                                          {"source": "b", "target": "y"}]})
    assert rows and arrays["source"].tolist() == ["a", "b"]
    assert arrays["target"].tolist() == ["x", "y"]
    arrays, rows = _inputs({"instances": ["a", "b", "c"]})
    assert rows and arrays["text"].tolist() == ["a", "b", "c"]


def test_a_body_without_inputs_is_invalid():
    with pytest.raises(ServingError) as info:
        _inputs({"signature_name": "translate"})
    assert info.value.code == "INVALID_ARGUMENT" and "instances" in str(info.value)


def test_outputs_become_json_values():
    strings = np.array([[b"le chat", "\u00e9t\u00e9".encode()]], dtype=object)
    assert _to_json(strings) == [["le chat", "été"]]
    assert _to_json(np.array([b"\xff"], dtype=object)) == ["\ufffd"]  # never a crash
    assert _to_json(np.array([-1.5, 2.0], np.float32)) == [-1.5, 2.0]
