"""`decode.precision`: a search in bf16 arithmetic where asked, fp32 everywhere else."""

import dataclasses

import numpy as np
import tensorflow as tf
from conftest import run_cli

from keras_s2s import runs
from keras_s2s.decode.step import bind

TEXTS = ["12", "3 400", "7", "45 678", "100", "1 000 001", "999,999", "20"]


def test_a_bf16_search_computes_in_bf16_and_scores_like_fp32(tiny_run):
    decode = runs.load_config(tiny_run).decode
    assert decode.precision == "fp32"  # exact by default
    fp32 = runs.load_translator(tiny_run)
    bf16 = runs.load_translator(tiny_run, dataclasses.replace(decode, precision="bf16"))
    assert {m.get_layer("decoder_embedding").compute_dtype for m in bf16.trackables} == \
        {"bfloat16"}
    texts = tf.constant(TEXTS)
    out = fp32.translate_greedy(texts)
    # fp32's own translations, scored by both: bf16 keeps about 3 significant digits
    a = fp32.score(texts, out["translation"])["log_prob"].numpy()
    b = bf16.score(texts, out["translation"])["log_prob"].numpy()
    assert not np.array_equal(a, b)  # really another arithmetic
    np.testing.assert_allclose(b, a, rtol=0.05, atol=0.05)
    assert bf16.translate_greedy(texts)["translation"].shape == (len(TEXTS),)


def test_the_tflite_export_refuses_a_bf16_search(tiny_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, ["export-tflite", "--model-dir", str(tiny_run),
                                    "--precision", "bf16", "--out", str(tmp_path / "m.tflite")])
    assert code == 2 and "computes in fp32" in err and "Traceback" not in err
    assert not (tmp_path / "m.tflite").exists()


def test_every_matmul_of_a_bound_bf16_step_is_bf16(tiny_run):
    """Outside a layer call Keras does not autocast: a float32 weight would silently turn a
    decoder matmul back into a float32 one."""
    decode = dataclasses.replace(runs.load_config(tiny_run).decode, precision="bf16")
    translator = runs.load_translator(tiny_run, decode)
    states = translator.encoder_states(tf.constant(TEXTS))
    tokens = tf.fill([len(TEXTS)], 2)
    graph = tf.function(bind(translator.step)).get_concrete_function(tokens, states).graph
    matmuls = [op for op in graph.get_operations() if "MatMul" in op.type]
    assert len(matmuls) >= 3  # the cells' input and recurrent matmuls, the projection
    assert {op.get_attr("T") for op in matmuls} == {tf.bfloat16}
