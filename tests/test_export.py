"""SavedModel export: TF Serving layout, core ops only, and a fresh-process round trip."""

import json
import random
import subprocess
import sys

import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from keras_s2s.driver import Driver, TranslatorBackend
from keras_s2s.export.saved_model import export_saved_model, load_saved_model, next_version

# Runs in a new interpreter: loads the export with no keras_s2s.model / train import.
RELOAD_SCRIPT = """
import json, sys
from keras_s2s.driver import Driver, SavedModelBackend
texts = json.loads(sys.stdin.read())
translations, scores = Driver(SavedModelBackend(sys.argv[1]), batch_size=7).translate(texts)
heavy = sorted(m for m in sys.modules if m.startswith(("keras_s2s.model", "keras_s2s.train")))
print(json.dumps({"translations": translations, "scores": scores, "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def export_dir(tiny_translator, tmp_path_factory):
    return export_saved_model(tiny_translator, tmp_path_factory.mktemp("exports"), "tiny")


def fresh_inputs(n=40, seed=99):
    rng = random.Random(seed)  # values the built-in task's seed does not favour
    return [str(rng.randrange(10 ** rng.randint(1, 6))) for _ in range(n)] + ["", "12 345"]


def test_layout_and_versions(tiny_translator, tmp_path):
    first = export_saved_model(tiny_translator, tmp_path, "m")
    second = export_saved_model(tiny_translator, tmp_path, "m")
    assert (first.name, second.name) == ("1", "2")
    assert (second / "saved_model.pb").is_file()
    assert next_version(tmp_path / "m") == 3
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.startswith(".")]  # no temp left
    with pytest.raises(FileExistsError, match="--version"):
        export_saved_model(tiny_translator, tmp_path, "m", version=2)


def test_signatures(export_dir):
    loaded = load_saved_model(export_dir.parent)  # the model base: highest version
    assert {"serving_default", "translate", "translate_nbest", "score"} <= set(loaded.signatures)
    nbest = loaded.signatures["translate_nbest"](text=tf.constant(["12", "7"]),
                                                 beam_size=tf.constant(3), n_best=tf.constant(2))
    assert nbest["translations"].shape == (2, 2) and nbest["scores"].shape == (2, 2)
    assert (nbest["alignments"].numpy() == -1).all()  # the paper's model does not attend
    scored = loaded.signatures["score"](source=tf.constant(["12"]), target=tf.constant(["douze"]))
    assert scored["log_prob"].shape == (1,)
    sig = loaded.signatures["serving_default"]
    (spec,) = sig.structured_input_signature[1].values()
    assert spec.dtype == tf.string and spec.shape.as_list() == [None]
    assert set(sig.structured_outputs) == {"translation", "log_prob", "source_tokens",
                                           "source_tokens_read"}


def assert_only_core_ops(export_dir):
    """Every op of the export is a registered TF (or TF-Text) op, none a Python function: what
    the stock TF Serving binary runs."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    from tensorflow.python.framework import op_def_registry

    assert not ops & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    assert all(op_def_registry.get(op) is not None for op in ops), ops


def test_only_core_ops(export_dir):
    assert_only_core_ops(export_dir)


def test_reload_in_fresh_process_matches_in_process(tiny_translator, export_dir):
    texts = fresh_inputs()
    driver = Driver(TranslatorBackend(tiny_translator), batch_size=5)
    expected, expected_scores = driver.translate(texts)
    result = subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, str(export_dir)],
                            input=json.dumps(texts), capture_output=True, text=True, check=True)
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []
    assert got["translations"] == expected
    assert got["scores"] == pytest.approx(expected_scores, abs=1e-4)


def test_missing_export_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No SavedModel"):
        load_saved_model(tmp_path)
