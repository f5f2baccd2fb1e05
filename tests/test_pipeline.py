"""The tf.data pipeline: reversal before padding, EOS, filters, bucketing, reproducibility."""

import os

import numpy as np
import pytest
from conftest import SHARED_DATA

from keras_s2s.config import ConfigError, resolve
from keras_s2s.constants import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    RESERVED_TOKENS,
    SOURCE,
    TARGET_IN,
    UNK_ID,
)
from keras_s2s.data.corpus import TextPairCorpus
from keras_s2s.data.pipeline import (
    count_too_long,
    dataset_from_corpus,
    dataset_from_pairs,
    make_dataset,
    padding_stats,
)
from keras_s2s.data.tokenizer import VocabTokenizer
from keras_s2s.data.vocab import build_vocab, count_pieces

PAIRS = [("a b c", "x y"), ("d", "z"), ("a d", "y y z")]


def space_tok(texts):
    pieces = count_pieces(dataset_from_pairs([(t, t) for t in texts]).map(lambda s, _: s),
                          "space")
    return VocabTokenizer(build_vocab(pieces, 50), "space")


def data_cfg(**kw):
    return resolve(overrides=[{"data": kw}]).data


def test_reversal_keeps_right_padding_and_eos_after_reversed_tokens():
    src_tok, tgt_tok = space_tok([s for s, _ in PAIRS]), space_tok([t for _, t in PAIRS])
    ds = make_dataset(dataset_from_pairs(PAIRS), src_tok, tgt_tok, data_cfg(bucket_width=100),
                      batch_size=8)
    (inputs, target_out), = list(ds)  # one bucket: everything in one batch
    assert inputs[SOURCE].shape[0] == 3
    for src, tin, tout in zip(inputs[SOURCE].numpy(), inputs[TARGET_IN].numpy(),
                              target_out.numpy()):
        n = int((src != PAD_ID).sum())
        assert (src[n:] == PAD_ID).all()  # padding only on the right
        assert src[n - 1] == EOS_ID  # </s> after the reversed tokens
        words = src_tok.detokenize(src[None, :n - 1]).numpy()[0].decode().split()
        assert " ".join(words[::-1]) in [s for s, _ in PAIRS]  # really reversed
        assert tin[0] == BOS_ID and list(tin[1:]) == list(tout[:-1])  # teacher forcing
        assert EOS_ID in tout


def test_no_reversal_and_length_filter():
    pairs = [("a b c", "x"), ("a", "x y z w")]
    tok = space_tok(["a b c x y z w"])
    cfg = data_cfg(reverse_source=False, max_src_len=3, max_tgt_len=3)
    ds = make_dataset(dataset_from_pairs(pairs), tok, tok, cfg, batch_size=4)
    (inputs, target_out), = list(ds)
    assert target_out.shape[0] == 1  # the pair with a 4-token target was dropped
    assert tok.detokenize(inputs[SOURCE].numpy()[:1]).numpy()[0] == b"a b c"
    assert count_too_long(dataset_from_pairs(pairs), tok, tok, cfg) == 1


def test_batches_by_tokens():
    pairs = [(" ".join(["a"] * n), " ".join(["b"] * n)) for n in [2] * 30 + [9] * 30]
    tok = space_tok(["a b"])
    cfg = data_cfg(batch_tokens=40, bucket_width=1)
    ds = make_dataset(dataset_from_pairs(pairs), tok, tok, cfg, 999)
    sizes = sorted({(b[1].shape[0], b[1].shape[1]) for b in ds})
    assert all(rows * cols <= 40 for rows, cols in sizes)
    assert (13, 3) in sizes and (4, 10) in sizes  # 40 // 3 and 40 // 10 sentences


def test_fixed_seed_gives_the_same_batches():
    pairs = [(f"w{i} w{i + 1}", f"v{i}" + " v" * (i % 5)) for i in range(200)]
    tok = space_tok([" ".join(p) for p in pairs])

    def batches(seed):
        ds = make_dataset(dataset_from_pairs(pairs), tok, tok, data_cfg(shuffle_buffer=500),
                          8, shuffle=True, seed=seed)
        return [b[1].numpy() for b in ds]

    first, again, other = batches(5), batches(5), batches(6)
    assert len(first) == len(again)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(a.shape != b.shape or (a != b).any() for a, b in zip(first, other))


def test_multi30k_bucketing_keeps_padding_low():
    multi30k = os.path.join(SHARED_DATA, "multi30k")
    corpus = TextPairCorpus(os.path.join(multi30k, "val.en.gz"),
                            os.path.join(multi30k, "val.fr.gz"))
    pairs = dataset_from_corpus(corpus)
    src = VocabTokenizer(build_vocab(count_pieces(pairs.map(lambda s, t: s), "word"), 5000), "word")
    tgt = VocabTokenizer(build_vocab(count_pieces(pairs.map(lambda s, t: t), "word"), 5000), "word")
    cfg = data_cfg()
    bucketed = padding_stats(make_dataset(pairs, src, tgt, cfg, 16, shuffle=True, seed=1))
    plain = padding_stats(make_dataset(pairs, src, tgt, cfg, 16, shuffle=True, seed=1,
                                       bucketed=False))
    assert bucketed["sentences"] == plain["sentences"] == 1014
    assert bucketed["padding_fraction"] <= 0.10 < plain["padding_fraction"]
    assert RESERVED_TOKENS[0] == "<pad>"


def test_empty_pair_list_is_an_error():
    with pytest.raises(ValueError, match="no sentence pairs"):
        dataset_from_pairs([])


def test_word_dropout_replaces_inputs_by_unk_and_keeps_labels_and_reserved_tokens():
    pairs = [(f"w{i} w{i + 1} w{i + 2}", f"v{i} v{i + 1}") for i in range(300)]
    tok = space_tok([" ".join(p) for p in pairs])

    def batches(rate, seed=3):
        ds = make_dataset(dataset_from_pairs(pairs), tok, tok, data_cfg(), 16, shuffle=True,
                          seed=seed, dropout=rate)
        return [(x[SOURCE].numpy(), x[TARGET_IN].numpy(), y.numpy()) for x, y in ds]

    clean, noisy = batches(0.0), batches(0.3)
    assert [b[2].tolist() for b in noisy] == [b[2].tolist() for b in clean]  # labels untouched
    changed = total = 0
    for (src, tin, _), (src_n, tin_n, _) in zip(clean, noisy):
        for before, after in ((src, src_n), (tin, tin_n)):
            real = before >= len(RESERVED_TOKENS)
            assert (after[~real] == before[~real]).all()  # <pad>, <s>, </s> stay
            assert ((after[real] == before[real]) | (after[real] == UNK_ID)).all()
            changed += int((after[real] == UNK_ID).sum())
            total += int(real.sum())
    assert 0.25 < changed / total < 0.35
    again = batches(0.3)  # the same seed gives the same noise (a resumed epoch is identical)
    assert all((a[0] == b[0]).all() for a, b in zip(again, noisy))
    with pytest.raises(ConfigError, match="data.word_dropout"):
        resolve(overrides=["data.word_dropout=1.0"])
