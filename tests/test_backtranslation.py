"""`keras-s2s experiment backtranslation`: the split, the reverse model, the sampled sources,
the two forward models, and a rerun that trains nothing again (tiny models, real TF)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from keras_s2s import runs
from keras_s2s.data.tasks import numbers_fr

PARALLEL = 400


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A 700-pair digits → French corpus in two text files, and 30 held-out pairs."""
    splits = numbers_fr(seed=7, train_size=700, valid_size=50, test_size=30)
    root = tmp_path_factory.mktemp("bt_corpus")
    files = {}
    for name, pairs in (("train", splits.train), ("valid", splits.valid), ("test", splits.test)):
        for side, lines in zip(("src", "tgt"), zip(*pairs)):
            files[f"{name}_{side}"] = root / f"{name}.{side}"
            files[f"{name}_{side}"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def experiment_args(corpus, model_dir):
    data = [f"data.{split}_{side}={corpus[f'{split}_{side}']}"
            for split in ("train", "valid") for side in ("src", "tgt")]
    return ["experiment", "backtranslation", "--preset", "tiny", "--model-dir", str(model_dir),
            *(arg for setting in data + ["train.epochs=2"] for arg in ("--set", setting)),
            "--src", str(corpus["test_src"]), "--ref", str(corpus["test_tgt"]),
            "--parallel", str(PARALLEL), "--beam-size", "2"]


def test_back_translation_end_to_end(corpus, tmp_path, capsys):
    args = experiment_args(corpus, tmp_path)
    code, _, err = run_cli(capsys, args)
    assert code == 0, err
    data = tmp_path / "data"
    mono = (data / "mono.tgt").read_text("utf-8").splitlines()
    synthetic = (data / "synthetic.src").read_text("utf-8").splitlines()
    assert mono == corpus["train_tgt"].read_text("utf-8").splitlines()[PARALLEL:]
    # the training sources, not the test sources that --src names for this command
    assert (data / "parallel.src").read_text("utf-8").splitlines() == \
        corpus["train_src"].read_text("utf-8").splitlines()[:PARALLEL]
    assert len(synthetic) == len(mono) == 300 and all(s.strip() for s in synthetic[:5])
    reverse = runs.load_config(tmp_path / "models" / "reverse")
    assert (reverse.data.src_tokenizer, reverse.data.tgt_tokenizer) == ("space", "char")
    assert reverse.data.train_src == str(data / "parallel.tgt")
    assert reverse.data.valid_src == str(corpus["valid_tgt"])
    results = json.loads((tmp_path / "backtranslation.json").read_text("utf-8"),
                         parse_constant=pytest.fail)  # strict JSON: no NaN
    assert [r["synthetic pairs"] for r in results["rows"]] == [0, 300]
    # no validation BLEU was logged: null in JSON, a dash in the table
    assert [r["best val BLEU"] for r in results["rows"]] == [None, None]
    assert "| — |" in (tmp_path / "backtranslation.md").read_text("utf-8")
    assert all(0 <= r["test BLEU"] <= 100 for r in results["rows"])
    assert results["test_sentences"] == 30
    forward = runs.load_config(tmp_path / "models" / "forward_1")
    assert len((tmp_path / "data" / "forward_1" / "train.src").read_text("utf-8")
               .splitlines()) == 700 and forward.data.src_tokenizer == "char"

    code, _, err = run_cli(capsys, args)  # a rerun reads everything back
    assert code == 0 and "training" not in err and "sampling" not in err
    args[args.index("--parallel") + 1] = "300"  # another split of the same directory
    code, _, err = run_cli(capsys, args)
    assert code == 2 and "was split with --parallel 400, not 300" in err


def test_nothing_left_to_back_translate_is_refused(corpus, tmp_path, capsys):
    args = experiment_args(corpus, tmp_path)
    args[args.index("--parallel") + 1] = "700"
    code, _, err = run_cli(capsys, args)
    assert code == 2 and "--parallel 700 keeps every one of the corpus's 700 pairs" in err
    assert "Traceback" not in err and not (tmp_path / "models").exists()
