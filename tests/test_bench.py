"""Benchmark building blocks: the FLOP count, the timing helper, the eager baseline."""

import json

import pytest
import tensorflow as tf
from conftest import run_cli

from keras_s2s.bench.decode import EagerSearch, sentences_per_s, step_floor_ms
from keras_s2s.bench.host import cpu_model, host_info
from keras_s2s.bench.profile import newest_xspace
from keras_s2s.bench.train import flops_per_tgt_token, matmul_peak_gflops
from keras_s2s.config import ConfigError, ModelConfig
from keras_s2s.driver import Driver, TranslatorBackend
from keras_s2s.train.distribute import use_cpu_replicas
from keras_s2s.train.precision import choose_precision, cpu_flags, isa_cap_environment


def test_flops_per_target_token_follows_the_formula():
    model = ModelConfig(embedding_dim=2, hidden_dim=3, num_layers=2)
    lstm = 8 * 3 * (2 + 3) + 8 * 3 * (3 + 3)  # layer 0 reads E, layer 1 reads H
    expected = 3 * (10 * lstm + 5 * (lstm + 2 * 3 * 7)) / 5
    assert flops_per_tgt_token(model, 7, src_tokens=10, tgt_tokens=5) == pytest.approx(expected)


def test_matmul_peak_is_measured():
    assert matmul_peak_gflops(tf.float32, size=64, repeats=2) > 0


def test_sentences_per_s_times_one_call_after_a_warmup():
    calls = []

    def translate(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    rate, outputs = sentences_per_s(translate, ["a", "b", "c"], ["w"])
    assert calls == [["w"], ["a", "b", "c"]] and outputs == ["A", "B", "C"] and rate > 0


def test_the_eager_baseline_finds_what_the_graph_finds(tiny_translator):
    texts = ["12", "3 400", "7"]
    in_graph = Driver(TranslatorBackend(tiny_translator)).nbest(texts, 2, 3)
    eager = Driver(EagerSearch(tiny_translator)).nbest(texts, 2, 3)
    assert [[h.text for h in hyps] for hyps in eager] == \
        [[h.text for h in hyps] for hyps in in_graph]
    with pytest.raises(ValueError, match="translate_nbest only"):
        EagerSearch(tiny_translator).call("score", {})


def test_step_floor_is_one_compiled_step(tiny_translator):
    assert step_floor_ms(tiny_translator, ["12", "7"], beam_size=2, repeats=3) > 0


def test_attention_flops_are_counted_per_score():
    from keras_s2s.bench.train import attention_flops

    h = 4
    none = ModelConfig(hidden_dim=h, attention="none")
    assert attention_flops(none, 10, 5, 50) == 0
    dot = attention_flops(ModelConfig(hidden_dim=h, attention="dot"), 10, 5, 50)
    assert dot == 50 * 4 * h + 5 * 4 * h * h
    general = attention_flops(ModelConfig(hidden_dim=h, attention="general"), 10, 5, 50)
    assert general == dot + 5 * 2 * h * h
    concat = attention_flops(ModelConfig(hidden_dim=h, attention="concat"), 10, 5, 50)
    assert concat == general + 50 * 2 * h + 10 * 2 * h * h
    with_attention = flops_per_tgt_token(ModelConfig(hidden_dim=h, attention="dot"), 7, 10, 5,
                                         50)
    assert with_attention == pytest.approx(
        flops_per_tgt_token(ModelConfig(hidden_dim=h), 7, 10, 5) + 3 * dot / 5)


def test_the_host_is_named_with_the_isa_flags_that_pick_fast_paths(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n"
                       "flags\t\t: fpu sse2 avx avx2 fma bmi2\n", encoding="utf-8")
    host = host_info(cpuinfo)
    assert host["cpu_model"] == "AMD EPYC 7B13 64-Core Processor"
    assert host["isa"] == {"avx2": True, "fma": True, "avx512f": False, "avx512_vnni": False,
                           "avx512_bf16": False, "amx_tile": False, "amx_bf16": False}
    assert host["cores"] >= 1 and host["tensorflow"]
    assert cpu_model(tmp_path / "missing") == "unknown"


def test_an_isa_cap_below_avx512_hides_the_flags_oneDNN_will_not_use(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: avx2 fma avx512f avx512_bf16 "
                       "amx_tile\n", encoding="utf-8")
    assert host_info(cpuinfo)["isa"]["avx512_bf16"] and host_info(cpuinfo)["isa_cap"] is None
    for name, value in isa_cap_environment("avx2").items():
        monkeypatch.setenv(name, value)
    host = host_info(cpuinfo)
    assert host["isa_cap"] == "AVX2" and host["isa"]["avx2"]
    assert not any(host["isa"][f] for f in ("avx512f", "avx512_bf16", "amx_tile"))
    assert choose_precision("auto", cpu_flags(cpuinfo)).precision == "fp32"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert "avx512_bf16" in cpu_flags(cpuinfo)


def test_a_profile_says_where_the_step_time_went(tmp_path, capsys):
    code, out, _ = run_cli(capsys, ["bench", "train", "--preset", "tiny", "--steps", "3",
                                    "--warmup", "2", "--profile", str(tmp_path), "--json"])
    assert code == 0
    ops = json.loads(out.strip().splitlines()[-1])["profile_ops"]
    assert newest_xspace(tmp_path).stat().st_size > 0  # the trace TensorBoard reads
    assert {"_MklMatMul", "MatMul"} & {row["op"] for row in ops}
    assert sum(row["share"] for row in ops) == pytest.approx(1.0, abs=1e-3)
    assert all(row["ms_per_step"] >= 0 for row in ops)
    assert [r["share"] for r in ops if r["op"] != "other"] == sorted(
        (r["share"] for r in ops if r["op"] != "other"), reverse=True)
    phases = json.loads(out.strip().splitlines()[-1])["profile_phases"]
    running = {part for row in phases for part in row["running"]}
    assert {"time loop forward", "time loop backward", "projection and loss"} <= running
    assert sum(row["share"] for row in phases) == pytest.approx(1.0, abs=1e-3)


def test_without_json_the_figures_are_printed_as_lines(capsys):
    code, out, _ = run_cli(capsys, ["bench", "train", "--preset", "tiny", "--steps", "2",
                                    "--warmup", "1"])
    assert code == 0
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert float(lines["tgt_tokens_per_s"]) > 0 and lines["host.isa.avx2"] in ("true", "false")
    assert lines["host.cpu_model"] and "{" not in out


def test_cpu_replicas_are_refused_once_tensorflow_has_started_and_in_one_compare(capsys):
    tf.constant(1.0)  # this process's devices exist, unsplit
    with pytest.raises(ConfigError, match="before TensorFlow starts.*new process"):
        use_cpu_replicas(3)
    code, _, err = run_cli(capsys, ["bench", "train", "--preset", "tiny", "--steps", "1",
                                    "--compare", "train.cpu_replicas=1",
                                    "train.cpu_replicas=2"])
    assert code == 2 and "received: 1, 2 in one run" in err and "Traceback" not in err
