"""Input feeding, the bidirectional first encoder layer and tied embeddings, with every LSTM
kind: the training graph and the one-step search view agree; runs decode, export and
convert."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import train_tiny

from keras_s2s import runs
from keras_s2s.config import ConfigError, resolve
from keras_s2s.driver import Driver, SavedModelBackend, TranslatorBackend
from keras_s2s.export.saved_model import export_saved_model, load_saved_model
from keras_s2s.export.tflite import export_tflite
from keras_s2s.model.inference import make_cell_encode, make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq, parameter_counts

SRC = np.array([[5, 6, 7, 3, 0, 0], [4, 5, 6, 7, 8, 3]], np.int32)
TGT_IN = np.array([[2, 5, 6, 7], [2, 8, 9, 4]], np.int32)
OPTIONS = [
    ["model.attention=general", "model.input_feeding=true"],
    ["model.attention=concat", "model.input_feeding=true", "model.dropout=0.2"],
    ["model.attention=dot", "model.input_feeding=true", "model.lstm=keras"],
    ["model.attention=general", "model.input_feeding=true", "model.peephole=true"],
    ["model.attention=general", "model.bidirectional_encoder=true"],
    ["model.bidirectional_encoder=true", "model.peephole=true"],
    ["model.tie_embeddings=true"],  # E != H: with a projection H -> E
    ["model.tie_embeddings=true", "model.attention=general", "model.embedding_dim=32"],
]


@pytest.mark.parametrize("options", OPTIONS, ids=" ".join)
def test_training_graph_and_search_step_agree(options):
    model = build_seq2seq(resolve("tiny", overrides=options).model, 12, 13)
    expected = tf.nn.log_softmax(model({"source": SRC, "target_in": TGT_IN}), -1).numpy()
    encode, step = make_encode(model), make_step(model)
    states, got = encode(tf.constant(SRC)), []
    for t in range(TGT_IN.shape[1]):
        log_probs, states = step(tf.constant(TGT_IN[:, t]), states)
        got.append(log_probs.numpy())
    np.testing.assert_allclose(np.stack(got, 1), expected, atol=2e-5)
    if "model.bidirectional_encoder=true" in options:
        with pytest.raises(ValueError, match="one direction"):
            make_cell_encode(model)
    else:  # the TFLite encoder (explicit cell loop) reads the same states and memory
        ours, lite = encode(tf.constant(SRC)), make_cell_encode(model)(tf.constant(SRC))
        if isinstance(ours, dict):
            mask = ours["mask"].numpy()[..., None]
            np.testing.assert_allclose(lite["memory"].numpy() * mask,
                                       ours["memory"].numpy() * mask, atol=1e-5)
            ours, lite = ours["layers"], lite["layers"]
        for a, b in zip(lite, ours):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_tied_embeddings_are_one_variable():
    cfg = resolve("tiny", overrides=["model.tie_embeddings=true"]).model
    model = build_seq2seq(cfg, 12, 13)
    target_matrices = [v for v in model.weights if tuple(v.shape) == (13, 16)]
    assert len(target_matrices) == 1  # the [V, E] matrix embeds and projects
    untied = build_seq2seq(dataclasses.replace(cfg, tie_embeddings=False), 12, 13)
    # Tying drops the [H, V] kernel and adds an [H, E] projection: 32 * (13 - 16) fewer.
    assert model.count_params() == untied.count_params() - 32 * 13 + 32 * 16
    assert parameter_counts(model)["output_projection"] == 0
    assert resolve("paper").model.tie_embeddings is False


def test_option_sizes_and_checks():
    base = resolve("tiny", overrides=["model.attention=general"]).model
    plain = build_seq2seq(base, 12, 13)
    feeding = build_seq2seq(dataclasses.replace(base, input_feeding=True), 12, 13)
    both = build_seq2seq(dataclasses.replace(base, bidirectional_encoder=True), 12, 13)
    h, e = 32, 16  # the first decoder layer reads h̃ too: 4H more input weights per unit
    assert feeding.count_params() == plain.count_params() + h * 4 * h
    assert parameter_counts(both)["encoder_lstm"] < parameter_counts(plain)["encoder_lstm"]
    assert parameter_counts(feeding)["decoder_lstm"] == \
        parameter_counts(plain)["decoder_lstm"] + h * 4 * h
    assert e == base.embedding_dim
    with pytest.raises(ConfigError, match="needs model.attention"):
        resolve("tiny", overrides=["model.input_feeding=true"])
    with pytest.raises(ConfigError, match="even"):
        resolve("tiny", overrides=["model.bidirectional_encoder=true", "model.hidden_dim=33"])


def assert_same(got, expected):
    """Two n-best lists: the same texts and alignments, log-probs equal to 1e-4."""
    assert [(h.text, h.alignment) for h in got] == [(h.text, h.alignment) for h in expected]
    assert [h.log_prob for h in got] == pytest.approx([h.log_prob for h in expected], abs=1e-4)


@pytest.fixture(scope="module")
def feeding_run(tmp_path_factory):
    return train_tiny(tmp_path_factory, "feeding_run", "data.task_size=1500",
                      "model.attention=concat", "model.input_feeding=true", "model.dropout=0.1",
                      "model.tie_embeddings=true")[0]


def test_input_feeding_tied_run_decodes_scores_exports_and_converts(feeding_run, tmp_path):
    texts = ["12", "3 400", "7", "45 678", "100"]
    translator = runs.load_translator(feeding_run, dataclasses.replace(
        runs.load_config(feeding_run).decode, beam_size=3))
    driver = Driver(TranslatorBackend(translator), batch_size=3)
    nbest = driver.nbest(texts, 2, 3)
    scored, _ = driver.score(texts, [hyps[0].text for hyps in nbest])
    assert scored == pytest.approx([hyps[0].log_prob for hyps in nbest], abs=1e-4)
    for text, hyps in zip(texts, nbest):  # alone as inside a padded batch
        assert_same(Driver(TranslatorBackend(translator)).nbest([text], 2, 3)[0], hyps)
    path = export_saved_model(translator, tmp_path, "feeding")
    for got, hyps in zip(Driver(SavedModelBackend(path)).nbest(texts, 2, 3), nbest):
        assert_same(got, hyps)
    from serving.tflite_translate import TFLiteTranslator

    export_tflite(runs.load_tflite_decoder(feeding_run, 12, 3), tmp_path / "f.tflite")
    lite = TFLiteTranslator(tmp_path / "f.tflite")
    greedy = load_saved_model(path).signatures["translate_greedy"](text=tf.constant(texts))
    assert [lite.translate([t])[0] for t in texts] == \
        [t.decode() for t in greedy["translation"].numpy()]


def test_tied_matrix_learns_from_both_ends_and_round_trips_its_config():
    from keras_s2s.model.tied_embedding import TiedEmbedding

    cfg = resolve("tiny", overrides=["model.tie_embeddings=true"]).model
    grads = {}
    for tied in (True, False):
        model = build_seq2seq(dataclasses.replace(cfg, tie_embeddings=tied), 12, 13)
        matrix = model.get_layer("decoder_embedding").embeddings
        with tf.GradientTape() as tape:
            logits = model({"source": SRC, "target_in": TGT_IN})
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.constant(TGT_IN), logits))
        grads[tied] = tf.convert_to_tensor(tape.gradient(loss, matrix)).numpy()  # [V, E]
    unused = 12  # a token no decoder input holds: only the projection can reach its row
    assert np.abs(grads[True][unused]).sum() > 0 and np.abs(grads[False][unused]).sum() == 0
    again = TiedEmbedding.from_config(TiedEmbedding(13, 16, 32).get_config())
    assert (again.vocab_size, again.embedding_dim, again.input_dim) == (13, 16, 32)
