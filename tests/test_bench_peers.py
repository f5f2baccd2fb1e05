"""The peer comparisons' own logic (benchmarks/peers/): the peers themselves run in their own
virtual environments, outside the suite; what is checked here is what feeds them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_s2s import runs
from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID, UNK_ID

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"
sys.path.insert(0, str(PEERS))  # the scripts import each other, as when run from there


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, PEERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_peer_specs_name_a_known_script_and_a_python():
    compare = load("compare")
    assert compare.peer_pythons(["torch=/a/python", "opennmt=/b/python"]) == {
        "torch": "/a/python", "opennmt": "/b/python"}
    for bad in ("fairseq=/c/python", "torch", "torch="):
        with pytest.raises(SystemExit, match="expected NAME=PYTHON"):
            compare.peer_pythons([bad])


def test_the_table_says_how_many_times_faster_ours_is():
    compare = load("compare")
    runs_ = [{"system": "ours", "tgt_tokens_per_s": 300.0, "gflops": 30.0},
             {"system": "peer", "tgt_tokens_per_s": 100.0, "gflops": 10.0},
             {"system": "ours", "tgt_tokens_per_s": 500.0, "gflops": 50.0},
             {"system": "peer", "tgt_tokens_per_s": 200.0, "gflops": 20.0}]
    rows = compare.table(runs_).splitlines()
    assert rows[2] == "| ours | 400.0 | 40.0 | 1.00× | 1.00, 1.00 |"  # medians over the rounds
    assert rows[3] == "| peer | 150.0 | 15.0 | 2.67× | 3.00, 2.50 |"  # and each round's ratio
    rows = compare.table(runs_, ("gflops", "GFLOP/s"), ("tgt_tokens_per_s", "tokens/s", ".0f"))
    assert rows.splitlines()[0].startswith("| system | GFLOP/s (median) | tokens/s |")
    assert rows.splitlines()[3] == "| peer | 15.0 | 150 | 2.67× | 3.00, 2.50 |"


def test_the_opennmt_id_order_is_a_permutation_with_unk_last():
    order = load("decode_compare").opennmt_order(10)
    assert sorted(order) == list(range(10))
    assert list(order[:3]) == [PAD_ID, BOS_ID, EOS_ID] and order[-1] == UNK_ID


def test_our_weights_land_where_opennmt_reads_them(tiny_run, tiny_translator, tmp_path):
    """Row k of its embeddings and column k of its projection are those of the word on line
    k of its vocabulary file; the encoder's tokens are ours, reversed, with `</s>`."""
    compare = load("decode_compare")
    _, model, _, _ = runs.load_model(tiny_run)
    ours = {w.path: np.asarray(w) for w in model.weights}
    compare.write_weights(tiny_translator, runs.load_config(tiny_run),
                          compare.vocabularies(tiny_run), tmp_path, beam_size=5, max_len=30)
    arrays = np.load(tmp_path / "weights.npz")
    assert len(arrays.files) == len(compare.WEIGHT_ORDER)
    words = (tiny_run / "tgt.vocab").read_text("utf-8").splitlines()
    tgt_ids = {w: i for i, w in enumerate(words)}
    theirs = (tmp_path / "tgt.vocab").read_text("utf-8").splitlines()
    assert len(theirs) + 1 == len(words)  # its file + one OOV bucket = our vocabulary
    for k in (3, 4, len(theirs) - 1):
        np.testing.assert_array_equal(arrays["w1"][k],
                                      ours["decoder_embedding/embeddings"][tgt_ids[theirs[k]]])
        np.testing.assert_array_equal(arrays["w14"][:, k],
                                      ours["output_projection/kernel"][:, tgt_ids[theirs[k]]])
    np.testing.assert_array_equal(arrays["w1"][-1], ours["decoder_embedding/embeddings"][UNK_ID])
    assert json.loads((tmp_path / "meta.json").read_text())["beam_size"] == 5
    src_vocab = (tiny_run / "src.vocab").read_text("utf-8").splitlines()
    chars = src_vocab[4:7]  # three characters the tiny model knows (a char vocabulary)
    tokens = compare.encoder_tokens(tiny_translator, ["".join(chars), chars[0]], src_vocab)
    assert tokens == [chars[::-1] + ["</s>"], [chars[0], "</s>"]]  # reversed, no padding
