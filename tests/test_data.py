"""Vocabularies, the in-graph tokenizer, corpus errors and the tf.data pipeline."""

import gzip

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID, RESERVED_TOKENS, SOURCE, TARGET_IN, UNK_ID
from keras_s2s.data.corpus import CorpusError, iter_lines, read_parallel
from keras_s2s.data.pipeline import make_dataset
from keras_s2s.data.tokenizer import Tokenizer
from keras_s2s.data.vocab import build_vocab, load_vocab, save_vocab

TEXTS = ["un deux deux", "trois deux un", "deux"]


def test_vocab_order_and_round_trip(tmp_path):
    vocab = build_vocab(TEXTS, "word", size=6)
    assert vocab == list(RESERVED_TOKENS) + ["deux", "un"]  # most frequent first, size cap
    save_vocab(vocab, tmp_path / "v")
    assert load_vocab(tmp_path / "v") == vocab
    chars = build_vocab(["a b", "ab"], "char", size=10)
    assert chars[4:] == ["a", "b", " "]


def test_vocab_errors(tmp_path):
    with pytest.raises(ValueError, match="size=4"):
        build_vocab(TEXTS, "word", size=4)
    (tmp_path / "bad").write_text("un\ndeux\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must start with"):
        load_vocab(tmp_path / "bad")


def test_tokenizer_round_trip_and_unknowns():
    tok = Tokenizer(build_vocab(TEXTS, "word", size=10), "word")
    ids = tok.tokenize(tf.constant(["un deux quatre", ""]))
    assert ids.to_list() == [[tok._table.lookup(tf.constant("un")).numpy(),
                              tok._table.lookup(tf.constant("deux")).numpy(), UNK_ID], []]
    dense = ids.to_tensor(PAD_ID)
    padded = tf.concat([dense, tf.fill([2, 1], EOS_ID), tf.fill([2, 2], 5)], axis=1)
    out = tok.detokenize(padded).numpy().tolist()
    assert out == [b"un deux <unk>", b""]  # stops at </s>, keeps <unk> visible


def test_char_tokenizer_joins_without_spaces():
    tok = Tokenizer(build_vocab(["12 345"], "char", size=20), "char")
    ids = tok.tokenize(tf.constant(["12 3"]))
    assert tok.detokenize(ids.to_tensor()).numpy()[0].decode() == "12 3"


def test_pipeline_reverses_before_padding():
    pairs = [("a b c", "x y"), ("d", "z"), ("a d", "y y z")]
    src_tok = Tokenizer(build_vocab([s for s, _ in pairs], "word", 20), "word")
    tgt_tok = Tokenizer(build_vocab([t for _, t in pairs], "word", 20), "word")
    ds = make_dataset(pairs, src_tok, tgt_tok, batch_size=8, max_src_len=10, max_tgt_len=10)
    seen = 0
    for inputs, target_out in ds:
        for src, tin, tout in zip(inputs[SOURCE].numpy(), inputs[TARGET_IN].numpy(),
                                  target_out.numpy()):
            real = src[src != PAD_ID]
            assert list(src[:len(real)]) == list(real)  # padding only on the right
            assert real[-1] == EOS_ID
            words = src_tok.detokenize(real[None, :-1]).numpy()[0].decode()
            original = next(s for s, _ in pairs if sorted(s.split()) == sorted(words.split()))
            assert words.split() == original.split()[::-1]
            assert tin[0] == BOS_ID
            assert list(tin[1:]) == list(tout[:-1])  # teacher forcing shift
            assert EOS_ID in tout
            seen += 1
    assert seen == 3


def test_pipeline_without_reversal_and_length_filter():
    pairs = [("a b c", "x"), ("a", "x y z w")]
    tok = Tokenizer(build_vocab(["a b c x y z w"], "word", 20), "word")
    ds = make_dataset(pairs, tok, tok, batch_size=4, max_src_len=3, max_tgt_len=3, reverse=False)
    batches = list(ds)
    assert len(batches) == 1 and batches[0][1].shape[0] == 1  # the long target was dropped
    src = batches[0][0][SOURCE].numpy()[0]
    assert tok.detokenize(src[None]).numpy()[0] == b"a b c"


def test_corpus_errors_name_files_and_lines(tmp_path):
    src, tgt = tmp_path / "a.en", tmp_path / "a.fr.gz"
    src.write_text("one\ntwo\nthree\n", encoding="utf-8")
    with gzip.open(tgt, "wt", encoding="utf-8") as handle:
        handle.write("un\ndeux\n")
    with pytest.raises(CorpusError) as info:
        read_parallel(src, tgt)
    assert "a.en" in str(info.value) and "3 lines" in str(info.value)
    assert "a.fr.gz" in str(info.value) and "has 2" in str(info.value)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nfine\n\xff\xfe broken\n")
    with pytest.raises(CorpusError, match="line 3: invalid UTF-8"):
        list(iter_lines(bad))


def test_random_batches_reproducible_with_seed():
    pairs = [(f"w{i} w{i + 1}", f"v{i}") for i in range(40)]
    tok = Tokenizer(build_vocab([" ".join(p) for p in pairs], "word", 200), "word")

    def first_batch(seed):
        ds = make_dataset(pairs, tok, tok, 8, 10, 10, shuffle_buffer=100, seed=seed)
        return next(iter(ds))[1].numpy()

    np.testing.assert_array_equal(first_batch(5), first_batch(5))
