"""The development server's model registry: versions on disk, the one served, input checks."""

import numpy as np
import pytest

from keras_s2s.export.saved_model import export_saved_model
from serving.registry import LoadedVersion, ModelRegistry, ServingError, versions_in


@pytest.fixture(scope="module")
def base(tiny_translator, tmp_path_factory):
    base = tmp_path_factory.mktemp("registry")
    export_saved_model(tiny_translator, base, "tiny")
    (base / "tiny" / "7").mkdir()  # a folder without a SavedModel is not a version
    (base / "tiny" / "notes").mkdir()
    return base


def test_versions_are_numeric_folders_holding_a_saved_model(base, tmp_path):
    assert versions_in(base / "tiny") == [1]
    assert versions_in(tmp_path / "missing") == []


def test_the_highest_version_is_served_and_names_are_checked(base):
    registry = ModelRegistry(base, "tiny", poll_seconds=60)
    try:
        version, loaded = registry.get("tiny", None)
        assert version == 1 and isinstance(loaded, LoadedVersion)
        with pytest.raises(ServingError, match="serves 'tiny'") as info:
            registry.get("other", None)
        assert info.value.code == "NOT_FOUND"
    finally:
        registry.close()


def test_a_base_without_versions_is_refused_at_start(tmp_path):
    with pytest.raises(FileNotFoundError, match="No servable version"):
        ModelRegistry(tmp_path, "tiny")


@pytest.mark.parametrize("signature, inputs, code, message", [
    ("nope", {"text": ["a"]}, "NOT_FOUND", "available"),
    ("translate", {}, "INVALID_ARGUMENT", "missing ['text']"),
    ("translate", {"text": ["a"], "x": [1]}, "INVALID_ARGUMENT", "unexpected ['x']"),
    ("translate", {"text": np.array([1.0])}, "INVALID_ARGUMENT", "must be string"),
    ("translate", {"text": np.array([["a"]], object)}, "INVALID_ARGUMENT", "shape"),
    ("translate_nbest", {"text": np.array(["a"], object), "beam_size": np.array([2], np.int32),
                         "n_best": np.int32(1)}, "INVALID_ARGUMENT", "'beam_size'"),
])
def test_validate_names_what_is_wrong(base, signature, inputs, code, message):
    loaded = LoadedVersion(base / "tiny" / "1")
    arrays = {k: np.asarray(v, dtype=object) if isinstance(v, list) else v
              for k, v in inputs.items()}
    with pytest.raises(ServingError, match=message.replace("[", r"\[").replace("]", r"\]")) \
            as info:
        loaded.validate(signature, arrays)
    assert info.value.code == code


def test_run_checks_then_calls(base):
    loaded = LoadedVersion(base / "tiny" / "1")
    out = loaded.run("translate_greedy", {"text": np.array(["12", "7"], object)})
    assert out["translation"].shape == (2,) and out["log_prob"].dtype == np.float32
