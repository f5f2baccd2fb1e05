"""Training's data phase: which corpora a config names, the data report, batch statistics."""

import json

import pytest

from keras_s2s import training
from keras_s2s.config import resolve
from keras_s2s.constants import DATA_REPORT_FILE
from keras_s2s.data.corpus import CorpusError
from keras_s2s.train.epoch_weights import validation_history

PAIRS = ["12\tdouze", "7\tsept", "3 400\ttrois mille quatre cents", "\tvide", "100\tcent",
         "1 000\tmille"]


def _tsv(tmp_path, lines=PAIRS, name="train.tsv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _config(tmp_path, **data):
    return resolve("tiny", overrides=[{"data": data}])


def test_corpora_are_the_configs_files_else_the_builtin_task(tmp_path):
    train, valid = training.corpora(_config(tmp_path, train_tsv=_tsv(tmp_path)))
    assert valid is None and train.scan().as_dict() == {"pairs": 5, "skipped": 0, "empty": 1}
    builtin_train, builtin_valid = training.corpora(resolve("tiny"))
    assert builtin_valid is not None
    assert builtin_train.scan().pairs == len(training.builtin_splits(resolve("tiny")).train)


def test_prepare_data_writes_the_report_and_the_vocabularies(tmp_path):
    cfg = _config(tmp_path, train_tsv=_tsv(tmp_path), valid_tsv=_tsv(tmp_path, PAIRS[:2], "v"),
                  max_src_len=3)
    train, valid = training.corpora(cfg)
    _, src_tok, tgt_tok = training.prepare_data(cfg, tmp_path, train, valid)
    report = json.loads((tmp_path / DATA_REPORT_FILE).read_text(encoding="utf-8"))
    assert report["train"] == {"pairs": 5, "skipped": 0, "empty": 1, "too_long": 2}  # chars
    assert report["valid"]["pairs"] == 2
    assert (tmp_path / "src.vocab").is_file() and src_tok.vocab_size > 4
    assert tgt_tok.vocab_size > 4


def test_data_stats_measures_bucketed_and_plain_batches(tmp_path):
    stats = training.data_stats(resolve("tiny", overrides=["data.task_size=300"]), tmp_path)
    assert stats["pairs"] == 300 and stats["batches"] >= 300 // 32
    assert 0 <= stats["padding_fraction"] <= stats["padding_fraction_unbucketed"] < 1
    assert stats["tokens_per_s"] > 0 and stats["batch_size"] == 32


def test_a_missing_corpus_file_stops_before_training(tmp_path):
    cfg = _config(tmp_path, train_src=str(tmp_path / "no.en"), train_tgt=str(tmp_path / "no.fr"))
    with pytest.raises(CorpusError, match="no.en"):
        training.train(cfg, tmp_path / "run", verbose=0)


def test_a_run_without_validation_data_trains_past_its_first_epoch(tmp_path):
    # Keras logs every val_ metric as "NA" then; reading the history must not stop training.
    cfg = resolve("tiny", overrides=[{"data": {"train_tsv": _tsv(tmp_path, PAIRS * 20)}},
                                     "train.epochs=2", "train.schedule=plateau"])
    history = training.train(cfg, tmp_path / "run", verbose=0)
    assert len(history["loss"]) == 2 and "val_loss" not in history
    logged = validation_history(tmp_path / "run")
    assert sorted(logged) == [1, 2] and "val_perplexity" not in logged[2]
