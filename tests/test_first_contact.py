"""What a new user meets first, through the public CLI and real processes: long inputs,
failed and finished runs, unusable corpora, interrupts, start-up noise, progress, precision."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import cli_process, run_cli

from keras_s2s.constants import CONFIG_FILE
from keras_s2s.train.precision import choose_precision, cpu_flags

LONG = "1" * 230  # the tiny preset reads characters; decode.max_src_len is 200


def test_a_long_input_is_said_or_refused(tiny_run, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(f"12\n{LONG}\n7\n", encoding="utf-8")
    base = ["translate", "--model-dir", str(tiny_run), "--input", str(src)]
    code, out, err = run_cli(capsys, base + ["--json"])
    assert code == 0 and len(out.splitlines()) == 4
    assert json.loads(out.splitlines()[-1])["truncated"] == 1
    assert "line 2 has 230 source tokens; the model reads the first 200" in err
    code, out, err = run_cli(capsys, base + ["--on-long-input", "error"])
    assert code == 2 and out == "" and "line 2 has 230 source tokens" in err
    assert "--on-long-input truncate" in err


def test_the_served_api_reports_source_lengths(tiny_translator, tmp_path):
    from keras_s2s.export.saved_model import export_saved_model
    from serving import client
    from serving.server import Server

    export_saved_model(tiny_translator, tmp_path, "tiny")
    server = Server(str(tmp_path), "tiny", port=0, rest_port=None)
    try:
        out = client.predict({"text": ["12", LONG]}, "127.0.0.1", server.port, "tiny")
    finally:
        server.stop()
    assert out["source_tokens"].tolist() == [2, 230]
    assert out["source_tokens_read"].tolist() == [2, 200]


def test_a_run_that_failed_before_training_can_be_corrected(tmp_path, capsys):
    run = str(tmp_path / "run")
    code, _, err = run_cli(capsys, ["train", "--model-dir", run, "--src", "no.en", "--tgt",
                                    "no.fr"])
    assert code == 2 and "no.en" in err
    assert not (tmp_path / "run" / CONFIG_FILE).exists()
    code, _, err = run_cli(capsys, ["train", "--model-dir", run, "--preset", "tiny", "--set",
                                    "data.task_size=100"])
    assert code == 0, err
    assert (tmp_path / "run" / CONFIG_FILE).exists()


def test_a_stale_unstarted_run_is_replaced(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / CONFIG_FILE).write_text("seed: 99\n", encoding="utf-8")  # left by an old version
    (run / "src.vocab").write_text("stale\n", encoding="utf-8")
    code, _, err = run_cli(capsys, ["train", "--model-dir", str(run), "--preset", "tiny", "--set",
                                    "data.task_size=100"])
    assert code == 0, err
    assert (run / "src.vocab").read_text(encoding="utf-8").startswith("<pad>")


@pytest.mark.parametrize("lines, extra, counts", [
    ([], [], "read 0 pairs"),
    (["1234567890123456789012345\tvingt"] * 3, [], "3 longer than data.max_src_len=20"),
    (["only one column"] * 2, ["--on-bad-line", "skip"], "skipped 2 bad lines"),
])
def test_no_usable_pairs_is_one_error_with_counts(tmp_path, capsys, lines, extra, counts):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    code, _, err = run_cli(capsys, ["train", "--model-dir", str(tmp_path / "r"), "--preset",
                                    "tiny", "--tsv", str(tsv), *extra])
    assert code == 2 and "No usable sentence pairs" in err and counts in err, err
    assert "Traceback" not in err and "data.max_src_len" in err
    assert not (tmp_path / "r" / CONFIG_FILE).exists()
    assert not list((tmp_path / "r").glob("*.vocab"))  # nothing stale for the next attempt


def test_paths_of_the_wrong_kind_are_named(tmp_path, capsys):
    code, _, err = run_cli(capsys, ["train", "--model-dir", str(tmp_path / "r"), "--src",
                                    str(tmp_path), "--tgt", str(tmp_path)])
    assert code == 2 and "is a directory; pass the corpus file itself" in err
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    code, _, err = run_cli(capsys, ["train", "--model-dir", str(a_file), "--preset", "tiny"])
    assert code == 2 and "is a file; pass a directory" in err


def test_a_finished_run_says_it_is_complete(tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "done"
    shutil.copytree(tiny_run, run)
    code, _, err = run_cli(capsys, ["train", "--model-dir", str(run), "--preset", "tiny", "--set",
                                    "data.task_size=1500", "--epochs", "1"])
    assert code == 0, err
    assert "is complete: 1 epochs trained" in err and "--epochs" in err
    assert "resuming" not in err


@pytest.mark.parametrize("text, message", [("model: [1, 2\n", "line"),
                                           ("- a list\n", "must hold a mapping")])
def test_malformed_yaml_is_one_line(tmp_path, capsys, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, ["info", "--config", str(config)])
    assert code == 2 and message in err and "bad.yaml" in err and "Traceback" not in err


def test_ctrl_c_during_training_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "keras_s2s.cli", "train", "--model-dir",
                             str(run), "--preset", "tiny", "--epochs", "20", "--set",
                             "train.checkpoint_every=5"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while not (run / "checkpoints" / "state.json").exists() and time.time() < deadline:
            time.sleep(0.5)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "resume" in err and str(run) in err
    assert "Traceback" not in err


def test_start_up_noise_is_silenced_unless_verbose(tmp_path):
    quiet = cli_process("info", "--preset", "tiny", cwd=tmp_path)
    assert quiet.returncode == 0 and "total" in quiet.stdout
    for noise in ("cuInit", "absl", "oneDNN", "cuda"):
        assert noise not in quiet.stderr, quiet.stderr
    loud = cli_process("info", "--preset", "tiny", "--verbose", cwd=tmp_path)
    assert loud.returncode == 0 and ("absl" in loud.stderr or "oneDNN" in loud.stderr)


def test_training_shows_the_data_phase_and_a_total(tmp_path, capsys):
    code, out, err = run_cli(capsys, ["train", "--model-dir", str(tmp_path / "r"), "--preset",
                                      "tiny", "--set", "data.task_size=200"])
    assert code == 0, err
    assert "data: reading" in err and "data: 200 pairs" in err
    assert "data: building vocabularies" in err and "batches of 32 per epoch" in err
    batches = int(err.split(" batches of 32 per epoch")[0].split()[-1])
    assert f"{batches}/{batches}" in out and "Unknown" not in out  # the bar has a total


@pytest.mark.parametrize("flags, chosen", [
    ({"avx2", "fma"}, "fp32"), ({"avx512f", "avx512_bf16"}, "bf16"), ({"amx_bf16"}, "bf16")])
def test_auto_precision_follows_the_cpu_flags(flags, chosen):
    choice = choose_precision("auto", flags, gpu_capabilities=())
    assert choice.precision == chosen and "auto" in choice.reason
    assert choose_precision("bf16", {"avx2"}, ()).precision == "bf16"  # explicit is kept
    assert choose_precision("auto", set(), ((7, 5),)).precision == "fp32"


def test_bench_train_and_training_say_which_precision_auto_chose(capsys, tmp_path):
    native = bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
    code, out, err = run_cli(capsys, ["bench", "train", "--preset", "tiny", "--steps", "2",
                                      "--warmup", "1", "--precision", "auto", "--json"])
    figures = json.loads(out.splitlines()[-1])
    assert code == 0 and figures["precision_requested"] == "auto"
    assert figures["precision"] == ("bf16" if native else "fp32")
    assert "auto:" in figures["precision_reason"]
