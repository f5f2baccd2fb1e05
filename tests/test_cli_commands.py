"""The data and export commands through the public CLI, with their JSON figures."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s import cli
from keras_s2s.export.saved_model import served_names, write_server_configs
from keras_s2s.export.tflite import export_tflite


def _figures(capsys, args):
    code = cli.main(args + ["--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1]), captured


def _corpus(tmp_path):
    src, tgt = tmp_path / "c.en", tmp_path / "c.fr"
    src.write_text("a man .\ntwo dogs run .\na dog .\n", encoding="utf-8")
    tgt.write_text("un homme .\ndeux chiens courent .\nun chien .\n", encoding="utf-8")
    return ["--src", str(src), "--tgt", str(tgt)]


def test_vocab_writes_both_sides(tmp_path, capsys):
    figures, captured = _figures(capsys, ["vocab", "--model-dir", str(tmp_path / "r"),
                                          *_corpus(tmp_path)])
    assert figures["pairs"] == 3 and figures["src_vocab_size"] == 4 + 7  # ▁a ▁man ▁. …
    assert (tmp_path / "r" / "tgt.vocab").is_file() and "wrote vocabularies" in captured.err


def test_data_stats_counts_pairs_and_batches(tmp_path, capsys):
    figures, _ = _figures(capsys, ["data-stats", *_corpus(tmp_path), "--batch-size", "2"])
    assert figures["pairs"] == 3 and figures["batch_size"] == 2 and figures["batches"] >= 2


def test_info_counts_parameters_of_a_preset(capsys):
    figures, captured = _figures(capsys, ["info", "--preset", "tiny"])
    parts = sum(v for k, v in figures.items() if k.endswith("_parameters"))
    assert figures["parameters"] == parts > 0 and "total" in captured.out


def test_export_tflite_command_and_the_shared_route(tiny_run, tmp_path, capsys):
    out = tmp_path / "m.tflite"
    figures, _ = _figures(capsys, ["export-tflite", "--model-dir", str(tiny_run), "--out",
                                   str(out), "--max-src-len", "8", "--beam-size", "2",
                                   "--length-penalty", "0.6"])
    assert figures["bytes"] == out.stat().st_size and figures["beam_size"] == 2
    meta = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert meta["length_penalty"] == 0.6  # honoured, as by translate and export
    assert meta["max_src_len"] == 8 and meta["vocab_files"] == {"src": "src.vocab",
                                                                "tgt": "tgt.vocab"}


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_the_tflite_beam_scores_with_the_length_penalty_given(tiny_run, alpha):
    from keras_s2s import runs

    decode = dataclasses.replace(runs.load_config(tiny_run).decode, length_penalty=alpha)
    decoder = runs.load_tflite_decoder(tiny_run, 8, 2, decode=decode)
    out = decoder.beam(tf.constant([[5, 6, 7, 0, 0, 0, 0, 0]], tf.int32))
    normalised = not np.allclose(out["scores"].numpy(), out["log_probs"].numpy())
    assert decoder.length_penalty == alpha and normalised == (alpha > 0)


def test_export_tflite_needs_a_decoder_built_from_a_run(tiny_run):
    from keras_s2s import runs

    decoder = runs.load_tflite_decoder(tiny_run, 8, 2)
    decoder.vocab_dir = None
    with pytest.raises(ValueError, match="load_tflite_decoder"):
        export_tflite(decoder, "x.tflite")


def test_server_configs_list_every_model_once(tmp_path):
    assert served_names(tmp_path / "models.config") == []
    for name in ("a", "b", "a", "c"):
        write_server_configs(tmp_path, name, max_batch_size=8)
    assert served_names(tmp_path / "models.config") == ["a", "b", "c"]
    assert "max_batch_size { value: 8 }" in (tmp_path / "batching_parameters.txt").read_text()
