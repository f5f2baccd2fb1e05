"""The Translator: the signatures it serves and how it turns text into source ids."""

import tensorflow as tf

from keras_s2s.constants import (
    EOS_ID,
    PAD_ID,
    SERVING_DEFAULT,
    SIG_ALIGN,
    SIG_SCORE,
    SIG_TRANSLATE,
    SIG_TRANSLATE_CONTROLLED,
    SIG_TRANSLATE_GREEDY,
    SIG_TRANSLATE_NBEST,
    SIG_TRANSLATE_SAMPLE,
)


def test_signatures_are_named_by_the_constants(tiny_translator):
    functions = tiny_translator.signatures()
    assert set(functions) == {SERVING_DEFAULT, SIG_TRANSLATE, SIG_TRANSLATE_NBEST, SIG_SCORE,
                              SIG_TRANSLATE_GREEDY, SIG_ALIGN, SIG_TRANSLATE_CONTROLLED,
                              SIG_TRANSLATE_SAMPLE}
    assert functions[SERVING_DEFAULT] is functions[SIG_TRANSLATE]


def test_source_ids_are_reversed_before_padding_and_end_with_eos(tiny_translator):
    tokens = tiny_translator.src_tokenizer.tokenize(tf.constant(["123", "45"])).to_list()
    ids = tiny_translator.source_ids(tf.constant(["123", "45"])).numpy().tolist()
    assert ids[0] == tokens[0][::-1] + [EOS_ID]
    assert ids[1] == tokens[1][::-1] + [EOS_ID, PAD_ID]  # padding stays on the right


def test_source_ids_are_cut_at_decode_max_src_len(tiny_translator):
    limit = tiny_translator.decode_config.max_src_len
    ids = tiny_translator.source_ids(tf.constant(["1" * (limit + 7)])).numpy()
    assert ids.shape == (1, limit + 1) and ids[0, -1] == EOS_ID


def test_score_counts_target_tokens_with_eos(tiny_translator):
    out = tiny_translator.score(tf.constant(["12", "7"]), tf.constant(["douze", ""]))
    tokens = tiny_translator.tgt_tokenizer.tokenize(tf.constant(["douze"])).to_list()[0]
    assert out["num_tokens"].numpy().tolist() == [len(tokens) + 1, 1]
    assert (out["log_prob"].numpy() < 0).all()


def test_encoder_states_are_one_pair_per_layer(tiny_translator):
    states = tiny_translator.encoder_states(tf.constant(["12", "3 400", "7"]))
    assert len(states) == 2 * 2  # (h, c) of the tiny preset's 2 layers
    assert all(s.shape[0] == 3 for s in states)
