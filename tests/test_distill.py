"""`keras-s2s distill` end to end on the built-in task written to files: the teacher's beam
translations become the student's targets, a rerun translates no finished shard again, and
the student exports to TFLite with the same output as its SavedModel."""

import dataclasses
import json

import pytest
import tensorflow as tf
from conftest import run_cli, train_tiny

from keras_s2s import runs, training
from keras_s2s.config import ConfigError, resolve
from keras_s2s.distill.distill import _distilled_corpus, _original_where_unk, student_config
from keras_s2s.distill.shards import SHARD, join_shards, translate_in_shards
from keras_s2s.evaluation.metrics import closest_to
from keras_s2s.export.saved_model import export_saved_model, load_saved_model
from keras_s2s.export.tflite import export_tflite
from serving.tflite_translate import TFLiteTranslator


def write_split(folder, name, pairs):
    src, tgt = folder / f"{name}.src", folder / f"{name}.tgt"
    src.write_text("".join(f"{s}\n" for s, _ in pairs), encoding="utf-8")
    tgt.write_text("".join(f"{t}\n" for _, t in pairs), encoding="utf-8")
    return str(src), str(tgt)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The tiny task's splits as text files (train 1500, valid and test 60 pairs)."""
    folder = tmp_path_factory.mktemp("corpus")
    splits = training.builtin_splits(resolve("tiny", overrides=["data.task_size=1500"]))
    files = {}
    for name, pairs in (("train", splits.train[:1500]), ("valid", splits.valid[:60]),
                        ("test", splits.test[:60])):
        files[f"{name}_src"], files[f"{name}_tgt"] = write_split(folder, name, pairs)
    return files


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, corpus):
    overrides = [f"data.{key}={value}" for key, value in corpus.items()]
    return train_tiny(tmp_path_factory, "teacher", "train.epochs=2", "data.tgt_tokenizer=space",
                      *overrides)[0]


def test_distill_end_to_end_and_a_rerun_translates_nothing_again(teacher, corpus, tmp_path,
                                                                 capsys):
    out = tmp_path / "student"
    args = ["distill", "--teacher", str(teacher), "--preset", "tiny", "--set",
            "model.hidden_dim=16", "--set", "distill.shard_lines=600", "--set",
            "distill.beam_size=2", "--model-dir", str(out), "--json"]
    code, stdout, err = run_cli(capsys, args)
    assert code == 0, err
    results = json.loads(stdout.strip().splitlines()[-1])
    assert results["corpus"]["lines"] == 1500 and results["corpus"]["shards"] == 3
    assert 0 <= results["corpus"]["teacher_valid_bleu"] <= 100
    # A teacher without attention cannot copy source words for <unk>: its lines stay as is.
    assert results["corpus"]["teacher_replace_unk"] is False
    assert results["corpus"]["kept_original_for_unk"] == 0
    assert [row["model"] for row in results["test"]] == ["teacher", "student"]
    assert results["test"][1]["parameters"] < results["test"][0]["parameters"]
    # The student's targets are the teacher's beam-2 translations of the sources.
    sources = open(corpus["train_src"], encoding="utf-8").read().splitlines()
    distilled = (out / "distill" / "train.distilled").read_text(encoding="utf-8").splitlines()
    translator = runs.load_translator(teacher)
    best = translator.translate_nbest(tf.constant(sources[:20]), tf.constant(2),
                                      tf.constant(1))["translations"][:, 0].numpy()
    assert distilled[:20] == [b.decode() for b in best]
    assert resolve(config_file=out / "config.yaml").data.train_tgt.endswith("train.distilled")
    shards = sorted((out / "distill" / "shards").glob("shard_*.txt"))
    stamps = [s.stat().st_mtime_ns for s in shards]

    shards[-1].unlink()  # as if killed while translating the last shard
    code, stdout, err = run_cli(capsys, args)
    assert code == 0, err
    assert "shard 3/3 translated" in err and "shard 1/3" not in err
    assert [s.stat().st_mtime_ns for s in shards[:-1]] == stamps[:-1]
    again = (out / "distill" / "train.distilled").read_text(encoding="utf-8").splitlines()
    assert again == distilled

    # The teacher's arithmetic is part of the job: bf16 translations never join fp32 shards.
    code, _, err = run_cli(capsys, args + ["--set", "distill.precision=bf16"])
    assert code == 2 and "precision differ" in err and "delete the folder" in err


def test_a_changed_source_is_not_mixed_with_old_shards(tmp_path):
    def upper(first, chunk):
        return [f"{line.upper()}{first + i}" for i, line in enumerate(chunk)]
    shards = translate_in_shards(upper, ["a", "b", "c"], tmp_path, 2, {"teacher": "t"}, print)
    assert [s.name for s in shards] == [SHARD.format(0), SHARD.format(1)]
    assert join_shards(shards, tmp_path / "all.txt") == 3
    assert (tmp_path / "all.txt").read_text(encoding="utf-8") == "A0\nB1\nC2\n"
    with pytest.raises(ValueError, match="source_sha256 differ"):
        translate_in_shards(upper, ["a", "b", "d"], tmp_path, 2, {"teacher": "t"}, print)


def test_a_student_needs_training_files(teacher):
    with pytest.raises(ConfigError, match="pass --src FILE --tgt FILE"):
        student_config(resolve("tiny"), resolve("tiny"))
    merged = student_config(resolve("tiny"), runs.load_config(teacher))
    assert merged.data.train_src == runs.load_config(teacher).data.train_src
    with pytest.raises(ConfigError, match="leave train.cpu_replicas at 1"):
        student_config(resolve("tiny", overrides=["train.cpu_replicas=2"]),
                       runs.load_config(teacher))


def test_the_cli_asks_for_a_student(capsys, tmp_path):
    code, _, err = run_cli(capsys, ["distill", "--teacher", "x", "--model-dir", str(tmp_path)])
    assert code == 2 and "--student-config FILE or --preset NAME" in err


def test_a_phone_student_exports_to_tflite_with_its_saved_model_output(
        tmp_path_factory, corpus):
    overrides = [f"data.{key}={value}" for key, value in corpus.items()]
    run, _ = train_tiny(tmp_path_factory, "phone", "train.epochs=1", "data.tgt_tokenizer=space",
                        "model.attention=general", "model.tie_embeddings=true",
                        "data.reverse_source=false", *overrides)
    folder = tmp_path_factory.mktemp("phone_tflite")
    saved = load_saved_model(export_saved_model(runs.load_translator(run),
                                                tmp_path_factory.mktemp("sm"), "phone", 1))
    texts = ["12", "3 400", "7", "45 678"]
    expected = saved.signatures["translate_greedy"](text=tf.constant(texts))["translation"]
    for quantize in ("none", "dynamic"):
        export_tflite(runs.load_tflite_decoder(run, 12, 2), folder / f"{quantize}.tflite",
                      quantize)
        lite = TFLiteTranslator(folder / f"{quantize}.tflite")
        got = [lite.translate([text])[0] for text in texts]
        if quantize == "none":  # fp32: token for token
            assert got == [b.decode() for b in expected.numpy()]
        else:  # int8 weights: it runs and says something for every sentence
            assert len(got) == len(texts)
    assert (folder / "dynamic.tflite").stat().st_size < (folder / "none.tflite").stat().st_size


def test_a_translation_left_with_unk_keeps_its_original_target(tmp_path):
    distilled = tmp_path / "train.distilled"
    distilled.write_text("Un chien <unk>.\nDeux chats.\n<unk> court\n", encoding="utf-8")
    originals = ["Un chien  blanc.", "Deux chats noirs.", "Un homme court"]
    assert _original_where_unk(distilled, originals) == 2
    assert distilled.read_text(encoding="utf-8") == ("Un chien blanc.\nDeux chats.\n"
                                                     "Un homme court\n")
    with pytest.raises(ValueError, match="2 original targets"):
        _original_where_unk(distilled, originals[:2])


def test_select_closest_takes_the_nbest_hypothesis_nearest_the_original(teacher, corpus,
                                                                        tmp_path):
    cfg = student_config(resolve("tiny", overrides=[
        "distill.beam_size=3", "distill.select=closest", "distill.shard_lines=200",
        f"data.train_src={corpus['valid_src']}", f"data.train_tgt={corpus['valid_tgt']}"]),
        runs.load_config(teacher))
    _, report = _distilled_corpus(cfg, [str(teacher)], tmp_path, print)
    assert report["select"] == "closest" and report["lines"] == 60
    sources = open(corpus["valid_src"], encoding="utf-8").read().splitlines()
    originals = open(corpus["valid_tgt"], encoding="utf-8").read().splitlines()
    translator = runs.load_translator(teacher)  # held: its tf.functions keep a weak `self`
    nbest = translator.translate_nbest(tf.constant(sources), tf.constant(3),
                                       tf.constant(3))["translations"].numpy()
    lists = [[b.decode() for b in row] for row in nbest]
    distilled = (tmp_path / "distill" / "train.distilled").read_text("utf-8").splitlines()
    assert distilled == closest_to(lists, originals)
    assert any(line != hyps[0] for line, hyps in zip(distilled, lists))  # not just the 1-best
    with pytest.raises(ValueError, match="select differ"):  # never mixed with 1-best shards
        _distilled_corpus(dataclasses.replace(
            cfg, distill=dataclasses.replace(cfg.distill, select="best")),
            [str(teacher)], tmp_path, print)


def test_closest_to_picks_the_best_sentence_bleu_and_keeps_order_on_ties():
    refs = ["a man rides a red bike .", "two dogs play ."]
    lists = [["a man rides a bike .", "a man rides a red bike .", "a man ."],
             ["cats sleep .", "birds fly ."]]  # no overlap: the first stays
    assert closest_to(lists, refs) == ["a man rides a red bike .", "cats sleep ."]
    with pytest.raises(ValueError, match="at least one candidate"):
        closest_to([[], ["x"]], refs)
    with pytest.raises(ValueError, match="2 references"):
        closest_to(lists[:1], refs)
