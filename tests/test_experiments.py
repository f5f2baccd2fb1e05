"""`keras-s2s experiment`: every study trains what it needs once and writes JSON, Markdown, PNG."""

import json

import numpy as np
import pytest

from keras_s2s import cli
from keras_s2s.experiments.figures import markdown_table, pca_2d
from keras_s2s.experiments.studies import length_buckets


def test_all_studies_write_their_results(tmp_path, capsys):
    out = tmp_path / "exp"
    args = ["experiment", "all", "--preset", "tiny", "--set", "data.task_size=300",
            "--members", "2", "--beams", "1,2", "--limit", "40", "--model-dir", str(out)]
    assert cli.main(args + ["--json"]) == 0
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(results) == {"reverse", "beam", "rescore", "length", "pca"}
    models = sorted(p.name for p in (out / "models").iterdir())
    assert models == ["forward_0", "reversed_0", "reversed_1"]  # trained once, shared
    vocab = (out / "models" / "reversed_0" / "tgt.vocab").read_bytes()
    assert all((out / "models" / m / "tgt.vocab").read_bytes() == vocab for m in models)
    for study in results:
        assert (out / f"{study}.json").is_file() and (out / f"{study}.md").is_file()
    assert (out / "length.png").stat().st_size > 1000 and (out / "pca.png").is_file()
    assert [row["source order"] for row in results["reverse"]["rows"]] == ["forward",
                                                                           "reversed"]
    assert [row["models"] for row in results["beam"]["rows"]] == ["single (seed 0)",
                                                                  "ensemble of 2"]
    assert len(results["pca"]["rows"]) == 12

    # A rerun trains nothing more and gives the same figures.
    assert cli.main(args + ["--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["beam"]["rows"] == results["beam"]["rows"]


def test_unknown_study_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["experiment", "nope", "--model-dir", str(tmp_path)])
    assert "invalid choice" in capsys.readouterr().err


def test_pca_and_table_helpers():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=8)
    vectors = np.outer(np.arange(5.0), direction) + 1e-3 * rng.normal(size=(5, 8))
    points, variance = pca_2d(vectors)
    assert points.shape == (5, 2) and variance[0] > 0.99
    assert np.allclose(np.abs(np.diff(points[:, 0])), np.linalg.norm(direction), rtol=1e-2)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        pca_2d(vectors[:1])
    assert length_buckets([3] * 10) == [(3, 3)]
    buckets = length_buckets(list(range(1, 31)), count=3)
    assert buckets == [(1, 11), (12, 20), (21, 30)]  # contiguous, covering every length
    table = markdown_table([{"a": 1, "b": 2.5}], ["a", "b"])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2.50 |"]
