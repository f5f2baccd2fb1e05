"""An experiment directory: what `Experiment.save` writes, and the tables and buckets it uses."""

import json

import numpy as np
import pytest

from keras_s2s.config import resolve
from keras_s2s.experiments.experiment import Experiment
from keras_s2s.experiments.figures import markdown_table, pca_2d, plot_length, plot_pca
from keras_s2s.experiments.studies import length_buckets

PAIRS = [("12", "douze"), ("7", "sept"), ("100", "cent")]


def test_save_writes_json_and_a_markdown_table(tmp_path):
    logged = []
    exp = Experiment(resolve("tiny"), tmp_path / "exp", PAIRS, beam_size=3, log=logged.append)
    rows = [{"model": "a", "BLEU": 12.345}, {"model": "b", "BLEU": 7.0}]
    results = exp.save("study", {"note": 1}, rows, ["model", "BLEU"], "a note")
    saved = json.loads((tmp_path / "exp" / "study.json").read_text(encoding="utf-8"))
    assert saved == results and saved["test_sentences"] == 3 and saved["rows"] == rows
    table = (tmp_path / "exp" / "study.md").read_text(encoding="utf-8")
    assert "| model | BLEU |" in table and "| a | 12.35 |" in table and "a note" in table
    assert logged and "### study" in logged[0]


def test_bleu_against_the_experiments_references(tmp_path):
    refs = ["quatre-vingt-dix-neuf mille neuf cent un", "deux cent trente mille sept cent"]
    exp = Experiment(resolve("tiny"), tmp_path, list(zip(["99 901", "230 700"], refs)))
    assert exp.bleu(refs) == 100.0
    assert exp.bleu(["x"], ["y"]) == 0.0


def test_markdown_table_leaves_missing_cells_empty():
    table = markdown_table([{"a": 1}, {"a": 2.5, "b": "x"}], ["a", "b"])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 |  |", "| 2.50 | x |"]


def test_length_buckets_cover_every_length_once():
    lengths = list(range(1, 41))
    buckets = length_buckets(lengths, count=4)
    assert buckets[0][0] == 1 and buckets[-1][1] == 40
    covered = [n for low, high in buckets for n in range(low, high + 1)]
    assert covered == lengths
    assert length_buckets([5, 5, 5]) == [(5, 5)]


def test_pca_and_plots_write_pngs(tmp_path):
    vectors = np.random.default_rng(0).normal(size=[6, 4])
    points, variance = pca_2d(vectors)
    assert points.shape == (6, 2) and 0 < variance.sum() <= 1 + 1e-9
    assert variance[0] >= variance[1]
    plot_pca(points, [str(i) for i in range(6)], [1, 1, 1, 2, 2, 2], tmp_path / "pca.png")
    plot_length([{"length": "1-5", "a": 3.0}, {"length": "6-9", "a": 2.0}], ["a"],
                tmp_path / "length.png")
    for name in ("pca.png", "length.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="at least 2 vectors"):
        pca_2d(np.zeros([1, 3]))
