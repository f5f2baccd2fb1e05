"""Vocabularies and in-graph tokenizers, with round trips on real Multi30k sentences."""

import collections
import os

import pytest
import tensorflow as tf
from conftest import SHARED_DATA

from keras_s2s.constants import EOS_ID, PAD_ID, RESERVED_TOKENS, UNK_ID
from keras_s2s.data.corpus import TextPairCorpus
from keras_s2s.data.tokenizer import SentencePieceTokenizer, VocabTokenizer, normalize_spaces
from keras_s2s.data.vocab import (
    build_vocab,
    count_pieces,
    load_vocab,
    save_vocab,
    train_sentencepiece,
)

MULTI30K = os.path.join(SHARED_DATA, "multi30k")


@pytest.fixture(scope="module")
def multi30k_fr():
    corpus = TextPairCorpus(os.path.join(MULTI30K, "train.en.gz"),
                            os.path.join(MULTI30K, "train.fr.gz"))
    return [fr for _, fr in corpus.pairs()][:3000]


def texts_dataset(texts):
    return tf.data.Dataset.from_tensor_slices(texts)


def test_vocab_order_reserved_first_and_round_trip(tmp_path):
    counts = count_pieces(texts_dataset(["un deux deux", "trois deux un", "deux"]), "space")
    vocab = build_vocab(counts, size=6)
    assert vocab == list(RESERVED_TOKENS) + ["deux", "un"]  # most frequent first, capped
    save_vocab(vocab, tmp_path / "v")
    assert load_vocab(tmp_path / "v") == vocab
    (tmp_path / "bad").write_text("un\ndeux\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must start with"):
        load_vocab(tmp_path / "bad")
    with pytest.raises(ValueError, match="size=4"):
        build_vocab(counts, size=4)


def test_word_pieces_keep_spacing_information():
    tok = VocabTokenizer(list(RESERVED_TOKENS), "word")
    pieces = tok.split(tf.constant(["Un homme, l'air\u202fheureux !"])).to_list()[0]
    assert [p.decode() for p in pieces] == ["▁Un", "▁homme", ",", "▁l", "'", "air", "▁heureux",
                                            "▁!"]


def test_word_tokenizer_round_trip_on_multi30k(multi30k_fr):
    vocab = build_vocab(count_pieces(texts_dataset(multi30k_fr), "word"), size=100_000)
    tok = VocabTokenizer(vocab, "word")
    ids = tok.tokenize(tf.constant(multi30k_fr))
    back = tok.detokenize(ids.to_tensor(PAD_ID)).numpy()
    expected = normalize_spaces(tf.constant(multi30k_fr)).numpy()
    assert list(back) == list(expected)  # exact, up to whitespace normalisation


def test_word_tokenizer_small_vocab_round_trip_up_to_unk(multi30k_fr):
    counts = count_pieces(texts_dataset(multi30k_fr), "word")
    tok = VocabTokenizer(build_vocab(counts, size=500), "word")
    ids = tok.tokenize(tf.constant(multi30k_fr[:200]))
    assert int(tf.reduce_sum(tf.cast(ids.flat_values == UNK_ID, tf.int32))) > 0
    back = tok.detokenize(ids.to_tensor(PAD_ID)).numpy()
    for text, out, row in zip(multi30k_fr[:200], back, ids.to_list()):
        if UNK_ID not in row:
            assert out.decode() == " ".join(text.split())
        else:
            assert "<unk>" in out.decode()


def test_detokenize_stops_at_eos_and_drops_padding():
    tok = VocabTokenizer(list(RESERVED_TOKENS) + ["▁un", "▁deux", "."], "word")
    ids = tf.constant([[4, 5, 6, EOS_ID, 4, PAD_ID], [5, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID]])
    assert tok.detokenize(ids).numpy().tolist() == [b"un deux.", b"deux"]


def test_char_and_space_modes():
    chars = VocabTokenizer(build_vocab(count_pieces(texts_dataset(["12 345"]), "char"), 20),
                           "char")
    assert chars.detokenize(chars.tokenize(tf.constant(["12 3"])).to_tensor()).numpy()[0] == \
        b"12 3"
    space = VocabTokenizer(list(RESERVED_TOKENS) + ["a", "b"], "space")
    assert space.tokenize(tf.constant(["a  b c"])).to_list() == [[4, 5, UNK_ID]]


def test_sentencepiece_round_trip_is_exact(multi30k_fr):
    model = train_sentencepiece(multi30k_fr, size=800)
    tok = SentencePieceTokenizer(model)
    assert tok.vocab_size <= 800
    ids = tok.tokenize(tf.constant(multi30k_fr[:300]))
    assert int(tf.reduce_min(ids.flat_values)) >= len(RESERVED_TOKENS)  # no reserved ids
    padded = ids.to_tensor(PAD_ID)
    with_eos = tf.concat([padded, tf.fill([300, 1], EOS_ID), tf.fill([300, 2], 7)], axis=1)
    back = [b.decode() for b in tok.detokenize(with_eos).numpy()]
    assert back == [" ".join(t.split()) for t in multi30k_fr[:300]]


def test_count_pieces_matches_graph_split():
    counts = count_pieces(texts_dataset(["Un chat.", "Un chien."]), "word")
    assert counts == collections.Counter({"▁Un": 2, "▁chat": 1, "▁chien": 1, ".": 2})


def test_word_mode_shows_unk_as_a_word():
    tok = VocabTokenizer(list(RESERVED_TOKENS) + ["▁un", "'"], "word")
    ids = tok.tokenize(tf.constant(["un d'un"]))
    assert tok.detokenize(ids.to_tensor()).numpy()[0] == b"un <unk>' <unk>"
