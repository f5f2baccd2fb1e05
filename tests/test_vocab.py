"""Vocabularies: ranking, reserved tokens, files, one side per run directory, errors."""

import collections

import pytest
import tensorflow as tf

from keras_s2s.constants import EOS_ID, RESERVED_TOKENS, UNK_ID
from keras_s2s.data.vocab import (
    build_side,
    build_vocab,
    load_tokenizer,
    load_vocab,
    save_vocab,
    spm_path,
    vocab_exists,
    vocab_path,
)


def test_build_vocab_ranks_by_count_then_alphabet_and_cuts_at_size():
    counts = collections.Counter({"b": 5, "a": 5, "c": 9, "d": 1, "<unk>": 100})
    assert build_vocab(counts, 7) == list(RESERVED_TOKENS) + ["c", "a", "b"]
    assert build_vocab(counts, 100)[-1] == "d"  # all pieces fit: none dropped
    with pytest.raises(ValueError, match="size=4"):
        build_vocab(counts, 4)


def test_save_and_load_round_trip_keeps_odd_tokens(tmp_path):
    tokens = list(RESERVED_TOKENS) + ["▁l'", "é", " ", "\u00a0", "\t"]
    save_vocab(tokens, tmp_path / "v.vocab")
    assert load_vocab(tmp_path / "v.vocab") == tokens


@pytest.mark.parametrize("tokens, message", [
    (["<unk>", "<pad>", "<s>", "</s>", "a"], "must start with"),
    (list(RESERVED_TOKENS) + ["a", "a"], "duplicate"),
])
def test_load_vocab_rejects_broken_files(tmp_path, tokens, message):
    save_vocab(tokens, tmp_path / "bad.vocab")
    with pytest.raises(ValueError, match=message):
        load_vocab(tmp_path / "bad.vocab")


def test_build_side_then_load_tokenizer_of_a_run_dir(tmp_path):
    texts = tf.data.Dataset.from_tensor_slices(["le chat", "le chien", "un chat", "le"])
    assert not vocab_exists(tmp_path, ("word", "space"))
    build_side(texts, "word", 6, tmp_path, "src")
    build_side(texts, "space", 50, tmp_path, "tgt")
    assert vocab_exists(tmp_path, ("word", "space"))
    src = load_tokenizer(tmp_path, "src", "word")
    assert src.vocab_size == 6  # 4 reserved + "▁le" (3) + "▁chat" (2)
    ids = src.tokenize(tf.constant(["le chat", "un chien"])).to_list()
    assert ids[0] == [4, 5] and ids[1] == [UNK_ID, UNK_ID]
    tgt = load_tokenizer(tmp_path, "tgt", "space")
    assert tgt.detokenize(tf.constant([[tgt.vocab_size - 1, EOS_ID, 0]])).shape == (1,)


def test_missing_files_name_the_command_that_builds_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="keras-s2s vocab"):
        load_tokenizer(tmp_path, "src", "word")
    with pytest.raises(FileNotFoundError, match="spm.model"):
        load_tokenizer(tmp_path, "tgt", "sentencepiece")
    assert vocab_path(tmp_path, "src").name == "src.vocab"
    assert spm_path(tmp_path, "tgt").name == "tgt.spm.model"
