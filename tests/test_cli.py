"""The `keras-s2s` command from the outside: train, evaluate, export, translate."""

import json
import subprocess
import sys

import pytest
from conftest import run_cli

from keras_s2s import cli, runs
from keras_s2s.train.precision import cpu_flags


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def test_train_evaluate_export_translate(tmp_path, capsys):
    run = tmp_path / "run"
    code = cli.main(["train", "--preset", "tiny", "--model-dir", str(run), "--epochs", "1",
                     "--set", "data.task_size=300", "--seed", "3", "--json"])
    assert code == 0
    trained = last_json(capsys.readouterr().out)
    assert trained["train_pairs"] == 300 and "loss" in trained
    assert runs.load_config(run).seed == 3

    assert cli.main(["evaluate", "--model-dir", str(run), "--json"]) == 0
    captured = capsys.readouterr()
    scores = last_json(captured.out)
    assert {"bleu", "chrf", "bleu_tokenized", "perplexity", "signature"} <= set(scores)
    assert scores["sentences"] == 1000 and scores["beam_size"] == 5
    assert scores["perplexity"] > 1.0 and "tok:none" in scores["bleu_tokenized_signature"]
    assert "BLEU" in captured.out and "tok:13a" in captured.out  # results on stdout

    assert cli.main(["export", "--model-dir", str(run), "--base", str(tmp_path / "exp"),
                     "--name", "m", "--json"]) == 0
    export_dir = last_json(capsys.readouterr().out)["export_dir"]
    assert export_dir.endswith("m/1")
    assert cli.main(["evaluate", "--saved-model", export_dir, "--preset", "tiny", "--set",
                     "data.task_size=300", "--json"]) == 0  # the same built-in test split
    exported = last_json(capsys.readouterr().out)
    assert exported["bleu"] == scores["bleu"]
    assert abs(exported["perplexity"] - scores["perplexity"]) < 1e-3 * scores["perplexity"]

    texts = ["12", "3 400", "77"]
    assert cli.main(["translate", "--model-dir", str(run), "--input", _write(tmp_path, texts)]) == 0
    in_process = capsys.readouterr().out.splitlines()
    out = subprocess.run([sys.executable, "-m", "keras_s2s.cli", "translate", "--saved-model",
                          export_dir], input="\n".join(texts) + "\n", capture_output=True,
                         text=True, check=True)
    assert out.stdout.splitlines() == in_process


def test_rerun_with_other_config_is_refused(tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["train", "--preset", "tiny", "--model-dir", run, "--set", "data.task_size=100"]
    assert cli.main(base) == 0
    assert cli.main(base + ["--set", "model.hidden_dim=8"]) == 2
    assert "another config" in capsys.readouterr().err


def test_missing_run_dir_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["translate", "--model-dir", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def _write(tmp_path, lines):
    path = tmp_path / "input.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_nbest_score_rescore_and_bench_decode(tiny_run, tmp_path, capsys):
    src = _write(tmp_path, ["12", "3 400"])
    assert cli.main(["translate", "--model-dir", str(tiny_run), "--input", src,
                     "--n-best", "3", "--beam-size", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and lines[0].startswith("0 ||| ") and lines[3].startswith("1 ||| ")
    nbest = tmp_path / "nbest.txt"
    nbest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hyps = tmp_path / "hyps.txt"
    hyps.write_text(lines[0].split(" ||| ")[1] + "\n" + lines[3].split(" ||| ")[1] + "\n",
                    encoding="utf-8")
    assert cli.main(["score", "--model-dir", str(tiny_run), "--src", src, "--tgt",
                     str(hyps)]) == 0
    scores = [float(x) for x in capsys.readouterr().out.split()]
    assert len(scores) == 2 and all(s <= 0 for s in scores)
    assert cli.main(["rescore", "--model-dir", str(tiny_run), "--src", src, "--nbest",
                     str(nbest), "--weight", "0"]) == 0  # model score only: beam's best wins
    assert capsys.readouterr().out.splitlines() == [lines[0].split(" ||| ")[1],
                                                    lines[3].split(" ||| ")[1]]
    assert cli.main(["translate", "--model-dir", str(tiny_run), "--input", src,
                     "--n-best", "2", "--beam-size", "4", "--token-scores"]) == 0
    scored = capsys.readouterr().out.strip().splitlines()
    for line in scored:  # the run has no length penalty: the score is the log-probability
        _, text, score, tokens = line.split(" ||| ")
        pairs = [token.rsplit("|", 1) for token in tokens.split()]
        assert pairs[-1][0] == "</s>" and "".join(p for p, _ in pairs[:-1]) == \
            text.replace(" ", "")
        assert sum(float(lp) for _, lp in pairs) == pytest.approx(float(score), abs=2e-3)
    nbest.write_text("\n".join(scored) + "\n", encoding="utf-8")
    assert cli.main(["rescore", "--model-dir", str(tiny_run), "--src", src, "--nbest",
                     str(nbest), "--weight", "0"]) == 0  # the extra field is skipped
    assert capsys.readouterr().out.splitlines()[0] == lines[0].split(" ||| ")[1]
    assert cli.main(["translate", "--model-dir", str(tiny_run), "--input", src,
                     "--token-scores"]) == 2
    assert "add --n-best N" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("not an n-best line\n", encoding="utf-8")
    assert cli.main(["rescore", "--model-dir", str(tiny_run), "--src", src, "--nbest",
                     str(bad)]) == 2
    assert "line 1: expected 'i ||| hypothesis ||| score'" in capsys.readouterr().err
    assert cli.main(["bench", "decode", "--model-dir", str(tiny_run), "--src", src,
                     "--beam-size", "3", "--batch-size", "2", "--limit", "2", "--json"]) == 0
    figures = last_json(capsys.readouterr().out)
    assert {"greedy_sent_per_s", "beam_sent_per_s", "eager_beam_sent_per_s",
            "saved_model_beam_sent_per_s", "saved_model_greedy_sent_per_s",
            "mean_hyp_tokens", "step_floor_ms", "sample_sent_per_s", "host"} <= set(figures)
    assert figures["step_floor_ms"] > 0
    for search, mean in (("beam", "mean_hyp_tokens"), ("greedy", "mean_greedy_hyp_tokens")):
        # the SavedModel's hypotheses are the in-graph ones: the same tokens per sentence
        assert figures[f"saved_model_{search}_hyp_tokens_per_s"] == pytest.approx(
            figures[f"saved_model_{search}_sent_per_s"] * figures[mean], rel=0.02)


def test_bench_train_measures_several_precisions_in_one_run(capsys):
    assert cli.main(["bench", "train", "--preset", "tiny", "--steps", "3", "--warmup", "1",
                     "--precision", "fp32", "bf16", "--json"]) == 0
    figures = last_json(capsys.readouterr().out)
    for precision in ("fp32", "bf16"):
        run = figures[precision]
        assert run["precision"] == precision and run["tgt_tokens_per_s"] > 0
        assert 0 < run["mfu"] < 1 and 0 <= run["padding_fraction"] < 1
        assert run["host"]["isa"]["avx512_bf16"] == ("avx512_bf16" in cpu_flags())
    assert figures["bf16_speedup_vs_fp32"] == pytest.approx(
        figures["bf16"]["tgt_tokens_per_s"] / figures["fp32"]["tgt_tokens_per_s"], abs=1e-3)


def test_a_prefix_file_needs_one_line_per_input(tiny_run, tmp_path, capsys):
    src = _write(tmp_path, ["12", "3 400"])
    prefixes = tmp_path / "prefixes.txt"
    prefixes.write_text("douze\n", encoding="utf-8")
    code, out, err = run_cli(capsys, ["translate", "--model-dir", str(tiny_run), "--input", src,
                                      "--prefix-file", str(prefixes)])
    assert code == 2 and out == "" and "has 1 lines for 2 input lines" in err
    prefixes.write_text("douze\n\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, ["translate", "--model-dir", str(tiny_run), "--input", src,
                                    "--prefix-file", str(prefixes)])
    assert code == 0 and out.splitlines()[0].startswith("douze") and len(out.splitlines()) == 2
