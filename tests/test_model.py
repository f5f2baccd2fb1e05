"""The functional seq2seq model: shapes, names, state wiring, masking and paper init."""

import numpy as np
import tensorflow as tf

from keras_s2s.config import resolve
from keras_s2s.constants import SOURCE, TARGET_IN
from keras_s2s.model.inference import make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq

SRC = np.array([[4, 5, 6, 3, 0], [7, 3, 0, 0, 0]], "int32")  # reversed tokens + </s>, padded
TGT_IN = np.array([[2, 4, 5, 6], [2, 8, 0, 0]], "int32")


def tiny_model(**overrides):
    cfg = resolve("tiny", overrides=[f"model.{k}={v}" for k, v in overrides.items()])
    return build_seq2seq(cfg.model, src_vocab_size=10, tgt_vocab_size=12)


def test_output_shape_and_layer_names():
    model = tiny_model()
    logits = model({SOURCE: SRC, TARGET_IN: TGT_IN})
    assert logits.shape == (2, 4, 12) and logits.dtype == tf.float32
    names = {layer.name for layer in model.layers}
    assert {"encoder_lstm_0", "encoder_lstm_1", "decoder_lstm_0", "decoder_lstm_1",
            "encoder_embedding", "decoder_embedding", "output_projection"} <= names


def test_parameter_count_formula():
    model = tiny_model()  # E=16, H=32, 2 layers, V=10/12
    lstm = lambda i, h: 4 * h * (i + h + 1)  # noqa: E731
    expected = 10 * 16 + 12 * 16 + 2 * (lstm(16, 32) + lstm(32, 32)) + 32 * 12 + 12
    assert model.count_params() == expected


def test_each_encoder_layer_initialises_its_decoder_layer():
    """The decoder's first step must use exactly encoder layer i's final (h, c) in layer i."""
    model = tiny_model()
    logits = model({SOURCE: SRC, TARGET_IN: TGT_IN})
    states = make_encode(model)(tf.constant(SRC))
    # Step with the encoder's states: matches the training graph at position 0.
    log_probs, _ = make_step(model)(tf.constant([2, 2]), states)
    np.testing.assert_allclose(log_probs, tf.nn.log_softmax(logits[:, 0]), atol=1e-5)
    # Swapping the two layers' states changes the result, so the wiring is layer by layer.
    swapped = (states[2], states[3], states[0], states[1])
    other, _ = make_step(model)(tf.constant([2, 2]), swapped)
    assert np.abs(other - log_probs).max() > 1e-4


def test_teacher_forcing_equals_stepwise_decoding():
    model = tiny_model()
    logits = model({SOURCE: SRC, TARGET_IN: TGT_IN})
    step, states = make_step(model), make_encode(model)(tf.constant(SRC))
    for t in range(TGT_IN.shape[1]):
        log_probs, states = step(tf.constant(TGT_IN[:, t]), states)
        np.testing.assert_allclose(log_probs[0], tf.nn.log_softmax(logits[0, t]), atol=1e-5)


def test_source_padding_does_not_change_states():
    model = tiny_model()
    encode = make_encode(model)
    alone = encode(tf.constant(SRC[1:, :2]))
    batched = encode(tf.constant(SRC))
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(a[0], b[1], atol=1e-6)


def test_paper_init_is_uniform_008_everywhere():
    model = tiny_model(init_scale=0.08)
    for weight in model.weights:
        values = weight.numpy()
        assert np.abs(values).max() <= 0.08 + 1e-7, weight.path
        assert values.std() > 0.03, weight.path  # really drawn, biases included
