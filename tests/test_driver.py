"""One driver over three back ends: the same sentences give the same outputs from an in-process
Translator, a reloaded SavedModel and a server over gRPC, through the API and the CLI."""

import json
import socket

import pytest

from keras_s2s import cli
from keras_s2s.driver import (
    BackendError,
    Driver,
    SavedModelBackend,
    ServerBackend,
    TranslatorBackend,
    in_length_order,
)
from keras_s2s.export.saved_model import export_saved_model
from serving.server import Server

TEXTS = ["12", "3 400", "", "999,999", "7", "45 678", "100", "1 000 001"]
REFS = ["douze", "trois mille quatre cents", "", "neuf cent quatre-vingt-dix-neuf mille",
        "sept", "quarante-cinq mille six cent soixante-dix-huit", "cent", "un million un"]


@pytest.fixture(scope="module")
def exported(tiny_translator, tmp_path_factory):
    base = tmp_path_factory.mktemp("driver")
    path = export_saved_model(tiny_translator, base, "tiny")
    server = Server(str(base), "tiny", port=0, rest_port=None)
    yield path, server
    server.stop()


@pytest.fixture(scope="module")
def backends(tiny_translator, exported):
    path, server = exported
    remote = ServerBackend(f"127.0.0.1:{server.port}", "tiny")
    yield {"in_process": TranslatorBackend(tiny_translator), "saved_model":
           SavedModelBackend(path), "server": remote}
    remote.close()


@pytest.mark.parametrize("beam", [None, 1, 3])
def test_every_backend_translates_alike(backends, beam):
    outputs = {name: Driver(b, batch_size=3).translate(TEXTS, beam) for name, b in
               backends.items()}
    texts, log_probs = outputs["in_process"]
    assert len(texts) == len(TEXTS) and all(isinstance(t, str) for t in texts)
    for name, (other_texts, other_log_probs) in outputs.items():
        assert other_texts == texts, name
        assert other_log_probs == pytest.approx(log_probs, abs=1e-4), name


def test_beam_size_is_honoured_not_ignored(backends, tiny_translator):
    import tensorflow as tf

    greedy = tiny_translator.translate_greedy(tf.constant(TEXTS))
    beam3 = tiny_translator.translate_nbest(tf.constant(TEXTS), tf.constant(3), tf.constant(1))
    for name, backend in backends.items():
        driver = Driver(backend)
        assert driver.translate(TEXTS, 1)[1] == pytest.approx(
            greedy["log_prob"].numpy().tolist(), abs=1e-4), name
        assert driver.translate(TEXTS, 3)[1] == pytest.approx(
            beam3["log_probs"].numpy()[:, 0].tolist(), abs=1e-4), name


def test_every_backend_gives_the_same_nbest_and_scores(backends):
    nbest = {name: Driver(b, batch_size=4).nbest(TEXTS, 2, 3) for name, b in backends.items()}
    scores = {name: Driver(b, batch_size=4).score(TEXTS, REFS) for name, b in backends.items()}
    reference = nbest["in_process"]
    assert all(len(hyps) == 2 for hyps in reference)
    assert all(h[0].score >= h[1].score for h in reference)  # best first
    for name in backends:
        assert [[h.text for h in hyps] for hyps in nbest[name]] == \
            [[h.text for h in hyps] for hyps in reference], name
        assert scores[name][1] == scores["in_process"][1], name  # target tokens
        assert scores[name][0] == pytest.approx(scores["in_process"][0], abs=1e-3), name
    log_probs, tokens = scores["in_process"]
    assert all(lp < 0 for lp in log_probs) and tokens[REFS.index("")] == 1  # </s> alone


def test_batching_and_order_do_not_change_results(backends):
    driver = Driver(backends["in_process"], batch_size=64)
    one_by_one = Driver(backends["in_process"], batch_size=1)
    assert driver.translate(TEXTS, 2)[0] == one_by_one.translate(TEXTS, 2)[0]
    reversed_texts = TEXTS[::-1]
    assert driver.translate(reversed_texts)[0] == driver.translate(TEXTS)[0][::-1]
    assert driver.translate([]) == ([], [])


def test_in_length_order_batches_by_length_and_restores_order():
    calls = []

    def upper(batch):
        calls.append(batch)
        return [text.upper() for text in batch]

    items = ["ccc", "a", "bb", "dddd", "e"]
    assert in_length_order(upper, items, 2) == ["CCC", "A", "BB", "DDDD", "E"]
    assert calls == [["a", "e"], ["bb", "ccc"], ["dddd"]]


@pytest.mark.parametrize("call, message", [
    (lambda d: d.translate(["1"], 0), "beam_size must be >= 1"),
    (lambda d: d.nbest(["1"], 3, 2), "keeps at most 2"),
    (lambda d: d.nbest(["1"], 0, 2), "n_best must be >= 1"),
    (lambda d: d.score(["1", "2"], ["un"]), "2 sources and 1 targets"),
])
def test_driver_refuses_bad_arguments(backends, call, message):
    with pytest.raises(ValueError, match=message):
        call(Driver(backends["in_process"]))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        Driver(backends["in_process"], batch_size=0)


def test_server_errors_are_one_clear_line(exported):
    _, server = exported
    wrong_name = ServerBackend(f"127.0.0.1:{server.port}", "nope")
    with pytest.raises(BackendError, match="NOT_FOUND.*nope"):
        Driver(wrong_name).translate(["12"])
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = ServerBackend(f"127.0.0.1:{closed}", "tiny", timeout=5)
    with pytest.raises(BackendError, match="UNAVAILABLE.*keras-s2s serve"):
        Driver(down).translate(["12"])
    with pytest.raises(ValueError, match="HOST:PORT"):
        ServerBackend("localhost", "tiny")


def _cli(capsys, *args):
    code = cli.main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_cli_commands_work_alike_on_the_three_backends(tiny_run, exported, tmp_path, capsys):
    path, server = exported
    src, ref, prefix = tmp_path / "src.txt", tmp_path / "ref.txt", tmp_path / "prefix.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    ref.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    prefix.write_text("\n".join(["", "trois", "", "neuf cent"] + [""] * 4) + "\n",
                      encoding="utf-8")
    flags = {"model_dir": ["--model-dir", str(tiny_run)],
             "saved_model": ["--saved-model", str(path)],
             "server": ["--server", f"127.0.0.1:{server.port}", "--model-name", "tiny"]}
    results = {}
    for name, backend in flags.items():
        results[name] = (
            _cli(capsys, "translate", *backend, "--input", str(src), "--beam-size", "1"),
            _cli(capsys, "translate", *backend, "--input", str(src), "--beam-size", "3",
                 "--n-best", "2", "--batch-size", "3"),
            _cli(capsys, "score", *backend, "--src", str(src), "--tgt", str(ref)),
            json.loads(_cli(capsys, "evaluate", *backend, "--src", str(src), "--ref", str(ref),
                            "--beam-size", "2", "--json").splitlines()[-1]),
            # Per-request controls, prefixes and sampling: served exports honour them too.
            _cli(capsys, "translate", *backend, "--input", str(src), "--beam-size", "3",
                 "--n-best", "2", "--length-penalty", "1.0", "--max-len-a", "0",
                 "--max-len-b", "3", "--token-scores"),
            _cli(capsys, "translate", *backend, "--input", str(src), "--prefix-file",
                 str(prefix), "--beam-size", "3"),
            _cli(capsys, "translate", *backend, "--input", str(src), "--sample",
                 "--num-samples", "2", "--temperature", "0.8", "--seed", "3"))
    greedy, nbest, scores, figures, controlled, prefixed, samples = results["model_dir"]
    assert all(len(line.split(" ||| ")[3].split()) <= 3 for line in controlled.splitlines())
    lines = prefixed.splitlines()
    assert lines[1].startswith("trois") and lines[3].startswith("neuf cent")
    assert len(samples.splitlines()) == 2 * len(TEXTS)
    assert len(greedy.splitlines()) == len(TEXTS) and len(nbest.splitlines()) == 2 * len(TEXTS)
    assert figures["beam_size"] == 2 and figures["sentences"] == len(TEXTS)
    for name, (g, n, s, f, *rest) in results.items():
        assert (g, n) == (greedy, nbest), name
        assert rest == [controlled, prefixed, samples], name
        assert [float(x) for x in s.split()] == pytest.approx(
            [float(x) for x in scores.split()], abs=2e-3), name
        assert (f["bleu"], f["chrf"]) == (figures["bleu"], figures["chrf"]), name


@pytest.mark.parametrize("args, message", [
    (["translate"], "exactly one of --model-dir"),
    (["translate", "--saved-model", "x", "--server", "h:1"], "--saved-model, --server"),
    (["translate", "--saved-model", "x", "--temperature", "0.6"], "add --sample"),
    (["translate", "--saved-model", "x", "--sample", "--n-best", "2"], "drop them"),
    (["score", "--saved-model", "x", "--src", "a", "--tgt", "b", "--max-len-b", "3"],
     "--max-len-b: score reads the given targets"),
    (["translate", "--saved-model", "x", "--token-scores"], "add --n-best N"),
    (["translate", "--model-dir", "x", "--n-best", "4", "--beam-size", "2"], "--n-best 4"),
    (["translate", "--saved-model", "x", "--precision", "bf16"],
     "export it again with `keras-s2s export --precision bf16`"),
])
def test_cli_refuses_backend_flags_that_cannot_work(args, message, capsys):
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--beam-size", "--batch-size", "--n-best"])
@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_cli_refuses_non_positive_sizes_before_loading(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model-dir", "does-not-exist", flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and value in err and "Traceback" not in err


def test_cli_over_a_wrong_server_is_one_runtime_error(exported, tmp_path, capsys):
    from conftest import run_cli

    _, server = exported
    src = tmp_path / "src.txt"
    src.write_text("12\n", encoding="utf-8")
    code, out, err = run_cli(capsys, ["translate", "--server", f"127.0.0.1:{server.port}",
                                      "--model-name", "nope", "--input", str(src)])
    assert code == 1 and out == "" and "NOT_FOUND" in err and "'nope'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    code, _, err = run_cli(capsys, ["score", "--server", f"127.0.0.1:{closed}", "--src",
                                    str(src), "--tgt", str(src)])
    assert code == 1 and "UNAVAILABLE" in err and "keras-s2s serve" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_every_backend_reports_long_inputs_alike(backends):
    long_text = "1" * 230  # the tiny model reads characters, at most decode.max_src_len=200
    for name, backend in backends.items():
        driver = Driver(backend, batch_size=2)
        driver.translate(["12", long_text, "7"], 1)
        assert driver.long_inputs == [(1, 230, 200)], name
        driver.score([long_text, "7"], ["un", "sept"])
        assert [x.index for x in driver.long_inputs] == [0], name
        with pytest.raises(ValueError, match="line 2 has 230 source tokens"):
            Driver(backend, on_long_input="error").nbest(["1", long_text], 1, 2)
    with pytest.raises(ValueError, match="on_long_input must be one of"):
        Driver(backends["in_process"], on_long_input="cut")
