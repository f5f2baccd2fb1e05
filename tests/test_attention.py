"""Luong attention as an option of the same model: weights, training, search, scoring, export."""

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
    return train_tiny(tmp_path_factory, "attention_run", "data.task_size=1500",
                      "model.attention=general")[0]


def test_search_scores_and_batches_agree(attention_run):
    translator = runs.load_translator(attention_run)
    driver = Driver(TranslatorBackend(translator), batch_size=4)
    greedy, greedy_lp = driver.translate(TEXTS, 1)
    alone = [Driver(TranslatorBackend(translator)).translate([t], 1) for t in TEXTS]
    assert greedy == [text for (text,), _ in alone]  # alone and inside a padded batch
    assert greedy_lp == pytest.approx([lp for _, (lp,) in alone], abs=1e-5)
    nbest = driver.nbest(TEXTS, 2, 3)
    for text, hyps in zip(TEXTS, nbest):  # alignments too: alone as in the batch
        (alone_hyps,) = Driver(TranslatorBackend(translator)).nbest([text], 2, 3)
        assert [h.alignment for h in alone_hyps] == [h.alignment for h in hyps]
        for hyp in hyps:  # one source position (reading order, </s> = its length) per token
            tokens = translator.tgt_tokenizer.tokenize(tf.constant([hyp.text])).row_lengths()
            assert len(hyp.alignment) == int(tokens[0])
            assert all(0 <= p <= len(text) for p in hyp.alignment)
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


FEEDING = "model.attention=general,model.input_feeding=true"  # two settings, one configuration


def test_bench_train_compares_configurations_in_one_run(capsys):
    import json

    from keras_s2s import cli

    assert cli.main(["bench", "train", "--preset", "tiny", "--steps", "2", "--warmup", "1",
                     "--compare", "model.attention=none", "model.attention=general",
                     FEEDING, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.splitlines()[-1])
    none, general = figures["model.attention=none"], figures["model.attention=general"]
    assert (none["attention"], general["attention"]) == ("none", "general")
    assert (general["input_feeding"], figures[FEEDING]["input_feeding"]) == (False, True)
    assert none["flops_per_tgt_token"] < general["flops_per_tgt_token"] < \
        figures[FEEDING]["flops_per_tgt_token"]
    assert figures["model.attention=general_speedup_vs_model.attention=none"] > 0


def test_cli_nbest_prints_alignments_and_replace_unk_is_honoured_or_refused(
        attention_run, tiny_run, tmp_path, capsys, monkeypatch):
    import io

    from conftest import run_cli

    stdin = "".join(f"{text}\n" for text in TEXTS).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code, out, _ = run_cli(capsys, ["translate", "--model-dir", str(attention_run),
                                    "--n-best", "2", "--beam-size", "2"])
    lines = [line.split(" ||| ") for line in out.splitlines()]
    assert code == 0 and len(lines) == 2 * len(TEXTS)
    with_words = [fields for fields in lines if fields[1]]
    assert with_words and all(len(fields) == 4 for fields in with_words)
    for fields in with_words:  # "s-t": output token t attended most to source token s
        pairs = [pair.split("-") for pair in fields[3].split()]
        assert [int(t) for _, t in pairs] == list(range(len(fields[1].split())))
    code, _, err = run_cli(capsys, ["translate", "--model-dir", str(tiny_run), "--replace-unk"])
    assert code == 2 and "needs model.attention" in err  # the paper's model has no alignments
    code, _, err = run_cli(capsys, ["translate", "--server", "127.0.0.1:1", "--replace-unk"])
    assert code == 2 and "keras-s2s export --replace-unk" in err
    plain = export_saved_model(runs.load_translator(attention_run), tmp_path, "plain")
    code, _, err = run_cli(capsys, ["translate", "--saved-model", str(plain), "--replace-unk"])
    assert code == 2 and "exported without --replace-unk" in err
    code, _, err = run_cli(capsys, ["export", "--model-dir", str(attention_run), "--base",
                                    str(tmp_path), "--name", "unk", "--replace-unk"])
    assert code == 0 and SavedModelBackend(tmp_path / "unk").replaces_unk
    from test_export import assert_only_core_ops

    assert_only_core_ops(tmp_path / "unk" / "1")  # attention, alignments, replace-unk, align


def test_align_draws_a_heatmap_from_a_run_or_an_export(attention_run, tiny_run, tmp_path, capsys):
    import json

    from conftest import run_cli

    export = export_saved_model(runs.load_translator(attention_run), tmp_path, "align")
    for flag, path in (("--model-dir", attention_run), ("--saved-model", export)):
        out = tmp_path / f"{flag[2:]}.png"
        code, stdout, err = run_cli(capsys, ["align", flag, str(path), "--out", str(out),
                                             "3 400", "--json"])
        assert code == 0, err
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        figures = json.loads(stdout.splitlines()[-1])
        assert figures["source"] == ["3", " ", "4", "0", "0", "</s>"]  # reading order
    (alignment,) = Driver(SavedModelBackend(export)).align(["45 678"])
    assert alignment.weights.shape == (len(alignment.target), len(alignment.source))
    np.testing.assert_allclose(alignment.weights.sum(axis=1), 1.0, rtol=1e-5)
    code, _, err = run_cli(capsys, ["align", "--model-dir", str(tiny_run), "--out",
                                    str(tmp_path / "none.png"), "12"])
    assert code == 2 and "has no attention" in err and not (tmp_path / "none.png").exists()


def test_alignments_and_align_over_grpc_and_rest(attention_run, tmp_path, capsys):
    import json
    import urllib.request

    from conftest import run_cli

    from keras_s2s.driver import ServerBackend
    from serving.server import Server

    translator = runs.load_translator(attention_run)
    export_saved_model(translator, tmp_path, "att")
    server = Server(str(tmp_path), "att", port=0, rest_port=0, poll_seconds=0.2)
    try:
        local = Driver(TranslatorBackend(translator)).nbest(TEXTS, 2, 3)
        remote = Driver(ServerBackend(f"127.0.0.1:{server.port}", "att")).nbest(TEXTS, 2, 3)
        assert [[h.alignment for h in hyps] for hyps in remote] == \
            [[h.alignment for h in hyps] for hyps in local]
        body = json.dumps({"signature_name": "translate_nbest", "inputs": {
            "text": ["45 678"], "beam_size": 3, "n_best": 1}}).encode()
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/att:predict"
        with urllib.request.urlopen(urllib.request.Request(url, body), timeout=60) as reply:
            outputs = json.loads(reply.read())["outputs"]
        assert outputs["alignments"][0][0][:len(local[3][0].alignment)] == \
            list(local[3][0].alignment)
        out = tmp_path / "server.png"
        code, _, err = run_cli(capsys, ["align", "--server", f"127.0.0.1:{server.port}",
                                        "--model-name", "att", "--out", str(out), "45 678"])
        assert code == 0 and out.is_file(), err
    finally:
        server.stop()
