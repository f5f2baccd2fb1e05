"""Corpus readers: text pairs, TSV, TFDS (mock data), and errors that lose nothing."""

import gzip

import pytest

from keras_s2s import cli
from keras_s2s.config import resolve
from keras_s2s.data.corpus import (
    CorpusError,
    PairListCorpus,
    TextPairCorpus,
    TfdsCorpus,
    TsvCorpus,
    iter_lines,
    open_corpus,
    read_parallel,
)


def write(path, lines, raw=False):
    data = b"".join(lines) if raw else "".join(line + "\n" for line in lines).encode("utf-8")
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def test_text_pair_streams_and_counts_empty(tmp_path):
    src = write(tmp_path / "a.en.gz", ["one", "", "three", "four"])
    tgt = write(tmp_path / "a.fr", ["un", "deux", "  ", "quatre"])
    corpus = TextPairCorpus(src, tgt)
    assert list(corpus.pairs()) == [("one", "un"), ("four", "quatre")]
    assert corpus.report.as_dict() == {"pairs": 2, "skipped": 0, "empty": 2}
    assert list(corpus.pairs()) == [("one", "un"), ("four", "quatre")]  # re-readable


@pytest.mark.parametrize("src_n, tgt_n", [(3, 2), (2, 5)])
def test_line_count_mismatch_names_both_files_and_counts(tmp_path, src_n, tgt_n):
    src = write(tmp_path / "x.en", [f"s{i}" for i in range(src_n)])
    tgt = write(tmp_path / "x.fr.gz", [f"t{i}" for i in range(tgt_n)])
    with pytest.raises(CorpusError) as info:
        TextPairCorpus(src, tgt).scan()
    message = str(info.value)
    assert f"x.en has {src_n} lines" in message and f"x.fr.gz has {tgt_n}" in message


def test_invalid_utf8_error_or_skip(tmp_path):
    src = write(tmp_path / "b.en", [b"ok\n", b"caf\xe9\n", b"fine\n"], raw=True)
    tgt = write(tmp_path / "b.fr", ["d'accord", "café", "bien"])
    with pytest.raises(CorpusError, match=r"b.en, line 2: invalid UTF-8.*--on-bad-line skip"):
        TextPairCorpus(src, tgt).scan()
    corpus = TextPairCorpus(src, tgt, on_bad_line="skip")
    assert list(corpus.pairs()) == [("ok", "d'accord"), ("fine", "bien")]
    assert corpus.report.skipped == 1
    with pytest.raises(CorpusError, match="line 2: invalid UTF-8"):
        list(iter_lines(src))


def test_tsv_columns_and_malformed_lines(tmp_path):
    path = write(tmp_path / "p.tsv.gz", ["Go.\tVa !", "Hi.\tSalut !\textra", "broken line"])
    with pytest.raises(CorpusError, match=r"line 3: expected at least 2 tab-separated"):
        TsvCorpus(path).scan()
    corpus = TsvCorpus(path, src_column=1, tgt_column=0, on_bad_line="skip")
    assert list(corpus.pairs()) == [("Va !", "Go."), ("Salut !", "Hi.")]
    assert corpus.report.skipped == 1


def test_tfds_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=7):
        corpus = TfdsCorpus("wmt14_translate/fr-en", "train", "en", "fr")
        pairs = list(corpus.pairs())
        assert corpus.report.pairs + corpus.report.empty == 7
        assert all(isinstance(s, str) and isinstance(t, str) for s, t in pairs)
        with pytest.raises(CorpusError, match="received languages"):
            TfdsCorpus("wmt14_translate/fr-en", "train", "en", "es").scan()


def test_open_corpus_from_config(tmp_path):
    src = write(tmp_path / "c.en", ["a"])
    data = resolve(overrides=[{"data": {"train_src": str(src), "train_tgt": str(src)}}]).data
    assert isinstance(open_corpus(data, "train"), TextPairCorpus)
    assert open_corpus(data, "valid") is None
    tfds_data = resolve(overrides=[{"data": {"train_tfds": "wmt14_translate/fr-en"}}]).data
    assert open_corpus(tfds_data, "train").split == "train"
    with pytest.raises(CorpusError, match="go together"):
        open_corpus(resolve(overrides=[{"data": {"train_src": "x"}}]).data, "train")
    with pytest.raises(CorpusError, match="one form only"):
        open_corpus(resolve(overrides=[{"data": {"train_tsv": "x", "train_tfds": "y"}}]).data,
                    "train")


def test_read_parallel_keeps_every_line(tmp_path):
    src = write(tmp_path / "t.en", ["a", ""])
    assert read_parallel(src, src) == [("a", "a"), ("", "")]
    assert list(PairListCorpus([("a", "b")]).pairs()) == [("a", "b")]


def test_data_stats_cli_fails_clearly_on_bad_input(tmp_path, capsys):
    src = write(tmp_path / "d.en", ["one", "two"])
    tgt = write(tmp_path / "d.fr", ["un"])
    code = cli.main(["data-stats", "--src", str(src), "--tgt", str(tgt), "--json"])
    assert code == 2
    err = capsys.readouterr().err
    assert "d.en has 2 lines" in err and "d.fr has 1" in err
