"""Luong attention as an option of the same model: weights, training, search, scoring, export."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s import runs, training
from keras_s2s.config import ConfigError, resolve
from keras_s2s.driver import Driver, SavedModelBackend, TranslatorBackend
from keras_s2s.export.saved_model import export_saved_model, load_saved_model
from keras_s2s.export.tflite import export_tflite
from keras_s2s.model.luong_attention import LuongAttention
from keras_s2s.model.seq2seq import build_seq2seq

TEXTS = ["12", "3 400", "7", "45 678", "100", "999,999"]


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_weights_sum_to_one_over_real_positions_and_are_zero_on_padding(score):
    layer = LuongAttention(4, score)
    rng = np.random.default_rng(0)
    query = tf.constant(rng.normal(size=[2, 3, 4]), tf.float32)
    memory = tf.constant(rng.normal(size=[2, 5, 4]), tf.float32)
    mask = tf.constant([[True] * 5, [True, True, False, False, False]])
    attentional, weights = layer(query, memory, mask)
    assert attentional.shape == (2, 3, 4) and weights.shape == (2, 3, 5)
    np.testing.assert_allclose(tf.reduce_sum(weights, -1).numpy(), 1.0, rtol=1e-6)
    assert (weights.numpy()[1, :, 2:] == 0.0).all()  # exactly zero, not just small
    padded = tf.concat([memory, tf.fill([2, 2, 4], 9.0)], axis=1)  # more padding changes nothing
    again, _ = layer(query, padded, tf.concat([mask, tf.zeros([2, 2], tf.bool)], axis=1))
    np.testing.assert_allclose(again.numpy(), attentional.numpy(), rtol=1e-5, atol=1e-6)
    assert LuongAttention.from_config(layer.get_config()).score == score


def test_attention_is_a_strict_config_choice():
    assert resolve("paper").model.attention == "none"  # the paper's model stays as it is
    with pytest.raises(ConfigError, match="'model.attention' must be one of"):
        resolve(overrides=["model.attention=luong"])
    cfg = resolve("tiny", overrides=["model.attention=general"]).model
    plain = build_seq2seq(resolve("tiny").model, 12, 13).count_params()
    assert build_seq2seq(cfg, 12, 13).count_params() == plain + 32 * 32 + 2 * 32 * 32


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory):
    cfg = resolve("tiny", overrides=["data.task_size=1500", "model.attention=general"])
    run = tmp_path_factory.mktemp("attention_run")
    training.train(cfg, run, verbose=0)
    return run


def test_search_scores_and_batches_agree(attention_run):
    translator = runs.load_translator(attention_run)
    driver = Driver(TranslatorBackend(translator), batch_size=4)
    greedy, greedy_lp = driver.translate(TEXTS, 1)
    alone = [Driver(TranslatorBackend(translator)).translate([t], 1) for t in TEXTS]
    assert greedy == [text for (text,), _ in alone]  # alone and inside a padded batch
    assert greedy_lp == pytest.approx([lp for _, (lp,) in alone], abs=1e-5)
    nbest = driver.nbest(TEXTS, 2, 3)
    scored, _ = driver.score(TEXTS, [hyps[0].text for hyps in nbest])
    assert scored == pytest.approx([hyps[0].log_prob for hyps in nbest], abs=1e-4)
    greedy_scored, _ = driver.score(TEXTS, greedy)
    assert greedy_scored == pytest.approx(greedy_lp, abs=1e-4)
    # A beam of one keeps greedy's path alive and its finished hypotheses apart, so its best
    # is greedy's output or a more probable one (an earlier </s>), never a worse one.
    one = tf.constant(1)
    beam_of_one = translator.translate_nbest(tf.constant(TEXTS), one, one)["log_probs"]
    assert (beam_of_one.numpy()[:, 0] >= np.array(greedy_lp) - 1e-5).all()


def test_saved_model_round_trip_and_an_ensemble_with_the_papers_model(
        attention_run, tiny_run, tmp_path):
    translator = runs.load_translator(attention_run)
    path = export_saved_model(translator, tmp_path, "attention")
    in_process = Driver(TranslatorBackend(translator)).translate(TEXTS, 3)
    reloaded = Driver(SavedModelBackend(path)).translate(TEXTS, 3)
    assert reloaded[0] == in_process[0]
    assert reloaded[1] == pytest.approx(in_process[1], abs=1e-4)
    mixed = runs.load_translator([attention_run, tiny_run])  # same built-in vocabularies
    assert len(Driver(TranslatorBackend(mixed)).translate(TEXTS, 2)[0]) == len(TEXTS)


def test_tflite_greedy_and_beam_equal_the_saved_model(attention_run, tmp_path):
    from serving.tflite_translate import TFLiteTranslator

    beam, width = 3, 12
    out = tmp_path / "attention.tflite"
    export_tflite(runs.load_tflite_decoder(attention_run, width, beam), out)
    decode = dataclasses.replace(runs.load_config(attention_run).decode, beam_size=beam)
    saved = load_saved_model(export_saved_model(runs.load_translator(attention_run, decode),
                                                tmp_path, "attention"))
    lite = TFLiteTranslator(out)
    texts = TEXTS + ["1" * width, ""]
    greedy = saved.signatures["translate_greedy"](text=tf.constant(texts))["translation"]
    nbest = saved.signatures["translate_nbest"](text=tf.constant(texts),
                                                beam_size=tf.constant(beam),
                                                n_best=tf.constant(beam))
    for i, text in enumerate(texts):
        assert lite.translate([text])[0] == greedy[i].numpy().decode()
        ids = lite.ids([text], beam=True)
        assert [lite.tgt.decode(ids["ids"][0, n].tolist()) for n in range(beam)] == \
            [t.decode() for t in nbest["translations"][i].numpy()]
        np.testing.assert_allclose(ids["log_probs"][0], nbest["log_probs"][i], atol=1e-3)


def test_bench_train_compares_configurations_in_one_run(capsys):
    import json

    from keras_s2s import cli

    assert cli.main(["bench", "train", "--preset", "tiny", "--steps", "2", "--warmup", "1",
                     "--compare", "model.attention=none", "model.attention=general",
                     "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.splitlines()[-1])
    none, general = figures["model.attention=none"], figures["model.attention=general"]
    assert (none["attention"], general["attention"]) == ("none", "general")
    assert general["flops_per_tgt_token"] > none["flops_per_tgt_token"]
    assert figures["model.attention=general_speedup_vs_model.attention=none"] > 0
