"""Alignments in reading order and unknown-word replacement, on a crafted model whose
attention is known: it attends to the source's `<unk>` and writes `un <unk> voit </s>`."""

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s.config import ConfigError, DecodeConfig, resolve
from keras_s2s.constants import EOS_ID, RESERVED_TOKENS, UNK_ID
from keras_s2s.data.tokenizer import VocabTokenizer
from keras_s2s.decode.scoring import in_reading_order, reading_positions
from keras_s2s.decode.translator import Translator

SOURCE = VocabTokenizer(list(RESERVED_TOKENS) + ["▁a", "▁man", "▁sees", "▁."], "word")
TARGET = VocabTokenizer(list(RESERVED_TOKENS) + ["▁un", "▁voit", "."], "word")
SCRIPT = [4, UNK_ID, 5, EOS_ID]  # un <unk> voit </s>


def crafted_model():
    """`(encode, step)`: every step attends to the first source `<unk>` and emits SCRIPT."""
    def encode(src_ids):
        width = tf.shape(src_ids)[1]
        where = tf.one_hot(tf.argmax(tf.cast(src_ids == UNK_ID, tf.int32), axis=1), width)
        return {"weights": tf.zeros_like(where), "where": where,
                "t": tf.zeros(tf.shape(src_ids)[:1], tf.int32)}

    def step(tokens, states):
        next_ids = tf.gather(SCRIPT, tf.minimum(states["t"], len(SCRIPT) - 1))
        log_probs = tf.nn.log_softmax(10.0 * tf.one_hot(next_ids, TARGET.vocab_size), -1)
        return log_probs, {**states, "weights": states["where"], "t": states["t"] + 1}
    return encode, step


@pytest.mark.parametrize("reverse", [False, True])
def test_alignments_are_in_reading_order_and_unk_is_replaced(reverse):
    translator = Translator(SOURCE, TARGET, *crafted_model(), reverse_source=reverse,
                            decode=DecodeConfig(beam_size=2, replace_unk=True))
    texts = tf.constant(["a man Zebulon sees .", "Zoé sees a man"])
    nbest = translator.translate_nbest(texts, tf.constant(2), tf.constant(1))
    # Zebulon is token 2 of the first sentence and Zoé token 0 of the second, both ways.
    assert nbest["alignments"].numpy()[:, 0, :4].tolist() == [[2, 2, 2, -1], [0, 0, 0, -1]]
    expected = [b"un Zebulon voit", b"un Zo\xc3\xa9 voit"]
    assert nbest["translations"].numpy()[:, 0].tolist() == expected
    assert translator.translate(texts)["translation"].numpy().tolist() == expected
    assert translator.translate_greedy(texts)["translation"].numpy().tolist() == expected


def test_without_replace_unk_the_unk_stays_and_alignments_still_come():
    translator = Translator(SOURCE, TARGET, *crafted_model(), reverse_source=True,
                            decode=DecodeConfig(beam_size=2))
    out = translator.translate_nbest(tf.constant(["a Zebulon"]), tf.constant(2), tf.constant(2))
    assert out["translations"].numpy()[0, 0] == b"un <unk> voit"
    assert out["alignments"].numpy()[0, 0, :3].tolist() == [1, 1, 1]


def test_reading_positions_map_reversed_sources_back():
    # Two sources of 3 and 1 tokens as the model read them reversed: "c b a </s>", "x </s>".
    src_ids = tf.constant([[7, 6, 5, EOS_ID], [9, EOS_ID, 0, 0]])
    fed = tf.constant([[0, 2, 3, 1], [1, 0, 0, 0]])  # positions attended, as the model read
    targets = tf.constant([[4, 4, 4, EOS_ID], [4, 4, EOS_ID, 0]])
    got = reading_positions(fed, src_ids, targets, reversed_source=True).numpy()
    assert got.tolist() == [[2, 0, 3, -1], [1, 0, -1, -1]]  # </s> stays after the tokens
    plain = reading_positions(fed, src_ids, targets, reversed_source=False).numpy()
    assert plain.tolist() == [[0, 2, 3, -1], [1, 0, -1, -1]]
    # Whole weight rows move the same way: each row's maximum lands where reading_positions
    # puts it.
    columns = in_reading_order(tf.one_hot(fed, 4), src_ids, reversed_source=True)
    assert tf.argmax(columns, -1).numpy()[:, :2].tolist() == got[:, :2].tolist()


def test_replace_unk_needs_attention_and_vocabulary_tokenizers():
    with pytest.raises(ConfigError, match="decode.replace_unk"):
        resolve("tiny", overrides=["decode.replace_unk=true"])
    with pytest.raises(ConfigError, match="sentencepiece"):
        resolve("tiny", overrides=["decode.replace_unk=true", "model.attention=dot",
                                   "data.tgt_tokenizer=sentencepiece"])
    assert np.isfinite(resolve("tiny", overrides=["decode.replace_unk=true",
                                                  "model.attention=dot"]).decode.max_len_a)
