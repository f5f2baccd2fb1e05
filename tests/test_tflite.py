"""TFLite export: builtins only, run in ai-edge-litert, same ids as the reloaded SavedModel."""

import dataclasses
import gzip
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA

from keras_s2s import runs, training
from keras_s2s.data.tokenizer import VocabTokenizer
from keras_s2s.export.saved_model import export_saved_model, load_saved_model
from keras_s2s.export.tflite import TFLiteDecoder, convert, export_tflite
from serving.tflite_memory import measure_in_subprocess
from serving.tflite_translate import TFLiteTranslator, Vocabulary, split_words

BEAM, WIDTH = 3, 12


@pytest.fixture(scope="module")
def lite(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    figures = export_tflite(runs.load_tflite_decoder(tiny_run, WIDTH, BEAM), out)
    assert figures["bytes"] == os.path.getsize(out)
    return out


@pytest.fixture(scope="module")
def saved_model(tiny_run, tmp_path_factory):
    decode = dataclasses.replace(runs.load_config(tiny_run).decode, beam_size=BEAM)
    path = export_saved_model(runs.load_translator(tiny_run, decode),
                              tmp_path_factory.mktemp("sm"), "tiny", 1)
    return load_saved_model(path)


def _inputs(tiny_run):
    test = training.builtin_splits(runs.load_config(tiny_run)).test
    texts = [src for src, _ in test[:40] if len(src) <= WIDTH]
    return texts + ["7", "1" * WIDTH, "123 456 789", ""]


def test_only_builtin_ops_and_bundle(lite):
    from ai_edge_litert.interpreter import Interpreter

    meta = json.loads(lite.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["max_src_len"] == WIDTH and meta["beam_size"] == BEAM
    assert (lite.parent / meta["vocab_files"]["src"]).is_file()
    signatures = Interpreter(model_path=str(lite)).get_signature_list()
    assert set(signatures) == {"greedy", "beam"}
    assert signatures["greedy"]["inputs"] == ["src_ids"]


def test_greedy_and_beam_equal_the_saved_model(tiny_run, lite, saved_model):
    translator = TFLiteTranslator(lite)
    texts = _inputs(tiny_run)
    greedy = saved_model.signatures["translate_greedy"](text=tf.constant(texts))
    beam = saved_model.signatures["translate_nbest"](
        text=tf.constant(texts), beam_size=tf.constant(BEAM), n_best=tf.constant(BEAM))
    for i, text in enumerate(texts):
        assert translator.translate([text])[0] == greedy["translation"][i].numpy().decode()
        out = translator.ids([text], beam=True)
        for n in range(BEAM):  # the whole n-best list, in order, with its log-probs
            expected = beam["translations"][i, n].numpy().decode()
            assert translator.tgt.decode(out["ids"][0, n].tolist()) == expected
        np.testing.assert_allclose(out["log_probs"][0], beam["log_probs"][i], atol=1e-3)


def test_over_long_input_is_an_error_or_documented_truncation(lite, saved_model):
    text = "1234567890123"  # 13 characters = 13 tokens > WIDTH
    with pytest.raises(ValueError, match="13 tokens but the model takes at most 12"):
        TFLiteTranslator(lite).translate([text])
    cut = TFLiteTranslator(lite, truncate=True).translate([text])[0]
    expected = saved_model.signatures["translate_greedy"](text=tf.constant([text[:WIDTH]]))
    assert cut == expected["translation"][0].numpy().decode()


def test_quantized_variants_convert_and_run(tiny_run, tmp_path):
    sizes = {}
    for quantize in ("dynamic", "float16"):
        out = tmp_path / quantize / "m.tflite"
        sizes[quantize] = export_tflite(runs.load_tflite_decoder(tiny_run, WIDTH, BEAM), out,
                                        quantize)["bytes"]
        assert isinstance(TFLiteTranslator(out).translate(["42"], beam=True)[0], str)
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_tflite(runs.load_tflite_decoder(tiny_run, WIDTH, BEAM), tmp_path / "x.tflite",
                      "int4")


def test_interpreter_peak_memory_is_measured_in_a_fresh_process(tiny_run, lite, tmp_path):
    texts = tmp_path / "src.txt"
    texts.write_text("\n".join(_inputs(tiny_run)[:6]) + "\n", encoding="utf-8")
    figures = measure_in_subprocess(lite, texts, limit=4)
    assert figures["sentences"] == 4
    assert figures["peak_rss_mb"] >= figures["baseline_rss_mb"] > 0
    # The interpreter, its arena and the model's pages: more than nothing, far less than TF.
    assert 0 < figures["interpreter_peak_mb"] < 200
    with pytest.raises(RuntimeError, match="missing.tflite"):
        measure_in_subprocess(tmp_path / "missing.tflite", texts)


def test_non_builtin_op_fails_loudly(tiny_run):
    cfg, model, _, _ = runs.load_model(tiny_run)
    from keras_s2s.model.inference import make_cell_encode, make_step

    step = make_step(model)

    def string_step(tokens, states):  # AsString/StringLength exist only as TF (Flex) ops
        lengths = tf.strings.length(tf.strings.as_string(tokens))
        log_probs, states = step(tokens, states)
        return log_probs + tf.expand_dims(tf.cast(lengths, tf.float32), 1) * 0.0, states

    decoder = TFLiteDecoder(make_cell_encode(model), string_step, True, cfg.decode, WIDTH, 2,
                            trackables=(model,))
    with pytest.raises(ValueError, match="builtin ops only") as error:
        convert(decoder)
    assert "AsString" in str(error.value) or "StringLength" in str(error.value)


def test_plain_python_word_split_equals_the_graph_tokenizer():
    with gzip.open(os.path.join(SHARED_DATA, "multi30k", "train.fr.gz"), "rt") as f:
        lines = [next(f).rstrip("\n") for _ in range(2000)]
    lines += ["", "  deux\u00a0 espaces\t", "l'été ▁ 3,5 €", "e\u0301te\u0301!"]
    graph = VocabTokenizer(["<pad>", "<unk>", "<s>", "</s>"], "word").split(tf.constant(lines))
    expected = [[piece.decode() for piece in row] for row in graph.to_list()]
    assert [split_words(line) for line in lines] == expected


def test_plain_python_vocabulary_matches_the_graph_tokenizer(tmp_path):
    tokens = ["<pad>", "<unk>", "<s>", "</s>", "▁Un", "▁homme", ".", "▁l", "'", "été"]
    (tmp_path / "v.vocab").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    vocab = Vocabulary(tmp_path / "v.vocab", "word", unk_id=1, eos_id=3)
    graph = VocabTokenizer(tokens, "word")
    text = "Un homme. l'été chaud."
    assert vocab.encode(text) == graph.tokenize(tf.constant([text])).to_list()[0]
    ids = [4, 5, 1, 6, 7, 8, 9, 3, 4, 0]
    assert vocab.decode(ids) == graph.detokenize(tf.constant([ids])).numpy()[0].decode()
