"""The Sutskever et al. (2014) encoder-decoder of stacked LSTMs, as a functional Keras model."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from keras_s2s.config import ModelConfig
from keras_s2s.constants import SOURCE, TARGET_IN
from keras_s2s.model.bidirectional_lstm import BidirectionalLSTM
from keras_s2s.model.fast_lstm import FastLSTM
from keras_s2s.model.input_feeding_decoder import InputFeedingDecoder
from keras_s2s.model.luong_attention import LuongAttention
from keras_s2s.model.peephole_lstm_cell import PeepholeLSTMCell
from keras_s2s.model.tied_embedding import TiedEmbedding

MODEL_NAME = "seq2seq"  # the name scope of the training graph's layers


class Seq2Seq(keras.Model):
    """The functional seq2seq model, with two fixes for Keras 3 under MultiWorkerMirroredStrategy.

    1. Before the first step, Keras averages one distributed batch over replicas to build
       the model symbolically, and the collective strategy cannot reduce a nested (dict)
       batch. The symbolic build needs only shapes and dtypes: one local batch is used.
    2. Keras reduces each step's logs with `reduce("MEAN", v, axis=0)`, which fails on
       scalars (tensorflow/tensorflow#72388): logs are returned as `[1]` tensors there.
    """

    def _multi_worker(self) -> bool:
        return isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)

    def _reducible(self, logs):
        """Scalar logs as `[1]` tensors under the multi-worker strategy (fix 2 above)."""
        if not self._multi_worker():
            return logs
        return tf.nest.map_structure(lambda v: tf.reshape(v, [1]), logs)

    def train_step(self, data):
        return self._reducible(super().train_step(data))

    def test_step(self, data):
        return self._reducible(super().test_step(data))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self.distribute_strategy
        if iterator is not None and self._multi_worker():
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0], next(it))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def _initializers(cfg: ModelConfig) -> dict:
    """Paper init (every weight ~ U(-s, s), no forget-bias trick) or the Keras defaults."""
    if cfg.init_scale <= 0:
        return {}
    uniform = keras.initializers.RandomUniform(-cfg.init_scale, cfg.init_scale)
    return {"kernel_initializer": uniform, "recurrent_initializer": uniform,
            "bias_initializer": uniform, "unit_forget_bias": False}


def _embedding_init(cfg: ModelConfig):
    if cfg.init_scale <= 0:
        return "uniform"
    return keras.initializers.RandomUniform(-cfg.init_scale, cfg.init_scale)


def _recurrent(cfg: ModelConfig, name: str, inits: dict, **kwargs) -> keras.layers.Layer:
    """`FastLSTM`, Keras' LSTM layer, or the peephole cell wrapped in `keras.layers.RNN`."""
    if not cfg.peephole:
        layer_cls = FastLSTM if cfg.lstm == "fast" else keras.layers.LSTM
        return layer_cls(cfg.hidden_dim, name=name, **inits, **kwargs)
    cell_inits = {k: v for k, v in inits.items() if k != "unit_forget_bias"}
    if "kernel_initializer" in cell_inits:
        cell_inits["peephole_initializer"] = cell_inits["kernel_initializer"]
    return keras.layers.RNN(PeepholeLSTMCell(cfg.hidden_dim, **cell_inits), name=name, **kwargs)


def _by_id(cfg: ModelConfig, layer: keras.layers.Layer, ids) -> dict:
    """`{"token_ids": ids}` for a first `FastLSTM` that reads its embeddings directly (no
    dropout between them), so it projects each distinct id once; else no argument."""
    return {"token_ids": ids} if isinstance(layer, FastLSTM) and cfg.dropout == 0 else {}


def _encoder_layer(cfg: ModelConfig, i: int, inits: dict) -> keras.layers.Layer:
    """`encoder_lstm_{i}`: one-way, or for layer 0 of a bidirectional encoder two halves."""
    if i > 0 or not cfg.bidirectional_encoder:
        return _recurrent(cfg, f"encoder_lstm_{i}", inits, return_sequences=True,
                          return_state=True)
    half = dataclasses.replace(cfg, hidden_dim=cfg.hidden_dim // 2)
    return BidirectionalLSTM(*(_recurrent(half, f"{way}", inits, return_sequences=True,
                                          return_state=True) for way in ("forward", "backward")),
                             name="encoder_lstm_0")


def _decoder(cfg: ModelConfig, y, states: list, memory, source_mask, target_in, inits: dict):
    """The decoder stack over `y [batch, T, E]`, the embeddings of `target_in`: one-way
    layers (then attention, if any), or the step-by-step `InputFeedingDecoder`. Returns the
    states the projection reads."""
    lstms = [_recurrent(cfg, f"decoder_lstm_{i}", inits, return_sequences=True)
             for i in range(cfg.num_layers)]
    if cfg.input_feeding:  # its dropout covers layers 1… and h̃ (what is fed back)
        if cfg.dropout > 0:
            y = keras.layers.Dropout(cfg.dropout, name="decoder_dropout_0")(y)
        attention = LuongAttention(cfg.hidden_dim, cfg.attention, name="attention")
        return InputFeedingDecoder(lstms, attention, cfg.dropout, name="decoder")(
            y, states, memory, source_mask)
    for i, lstm in enumerate(lstms):
        if cfg.dropout > 0:
            y = keras.layers.Dropout(cfg.dropout, name=f"decoder_dropout_{i}")(y)
        y = lstm(y, initial_state=states[i], **(_by_id(cfg, lstm, target_in) if i == 0 else {}))
    if cfg.attention != "none":  # y [batch, tgt_len, H] → the attentional states h̃
        y, _ = LuongAttention(cfg.hidden_dim, cfg.attention, name="attention")(
            y, memory, source_mask)
    if cfg.dropout > 0:
        y = keras.layers.Dropout(cfg.dropout, name="output_dropout")(y)
    return y


def build_seq2seq(cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> keras.Model:
    """Builds the training model.

    The encoder reads the (already reversed, `</s>`-terminated, right-padded) source; the
    final `(h, c)` of encoder layer `i` initialises decoder layer `i`. The decoder reads
    `<s> y1 … yn` (teacher forcing) and returns logits; the softmax lives in the loss.

    With `cfg.attention` set, a `LuongAttention` layer (`attention`) turns the top decoder
    layer's outputs into attentional states over the top encoder layer's outputs before
    the projection; with `cfg.input_feeding` the decoder layers and the attention sit in one
    step-by-step `InputFeedingDecoder` (`decoder`). With `cfg.bidirectional_encoder`,
    `encoder_lstm_0` is a `BidirectionalLSTM`. With `cfg.tie_embeddings`, one
    `TiedEmbedding` (`decoder_embedding`) embeds the targets and projects the outputs.

    Layers are named (`encoder_embedding`, `encoder_lstm_{i}`, `decoder_embedding`,
    `decoder_lstm_{i}`, `attention`, `output_projection`) so inference views can find them
    (`decoder_parts`).

    Args:
        cfg: model sizes.
        src_vocab_size, tgt_vocab_size: vocabulary sizes, reserved tokens included.

    Returns:
        A `keras.Model` taking `{"source": [batch, src_len], "target_in": [batch, tgt_len]}`
        int32 ids and returning logits `[batch, tgt_len, tgt_vocab_size]` in float32.
    """
    source = keras.Input(shape=(None,), dtype="int32", name=SOURCE)
    target_in = keras.Input(shape=(None,), dtype="int32", name=TARGET_IN)
    inits = _initializers(cfg)

    # mask_zero: right padding is skipped, so the final states are those after `</s>`.
    x = keras.layers.Embedding(src_vocab_size, cfg.embedding_dim, mask_zero=True,
                               embeddings_initializer=_embedding_init(cfg),
                               name="encoder_embedding")(source)
    source_mask = keras.ops.not_equal(source, 0)  # [batch, src_len], the encoder's and attention's
    states = []
    for i in range(cfg.num_layers):
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"encoder_dropout_{i}")(x)
        layer = _encoder_layer(cfg, i, inits)
        # Given a second tensor (token_ids), Keras no longer passes the input's mask itself.
        first = {"mask": source_mask, **_by_id(cfg, layer, source)}
        x, h, c = layer(x, **(first if i == 0 else {}))
        states.append([h, c])
    memory = x  # [batch, src_len, H]: what attention reads

    # The decoder needs no mask: padding sits after every real token and the loss masks it.
    if cfg.tie_embeddings:  # one matrix at both ends of the decoder
        target_embedding = TiedEmbedding(tgt_vocab_size, cfg.embedding_dim, cfg.hidden_dim,
                                         _embedding_init(cfg), name="decoder_embedding")
    else:
        target_embedding = keras.layers.Embedding(tgt_vocab_size, cfg.embedding_dim,
                                                  embeddings_initializer=_embedding_init(cfg),
                                                  name="decoder_embedding")
    y = _decoder(cfg, target_embedding(target_in), states, memory, source_mask, target_in,
                 inits)
    dense_init = ({"kernel_initializer": inits["kernel_initializer"],
                   "bias_initializer": inits["bias_initializer"]} if inits else {})
    # The projection is the largest matmul: it runs in the compute precision (bf16 under
    # mixed precision); the logits are cast to float32 for the softmax and the loss.
    if cfg.tie_embeddings:
        logits = target_embedding(y, project=True)
    else:
        logits = keras.layers.Dense(tgt_vocab_size, name="output_projection", **dense_init)(y)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    return Seq2Seq({SOURCE: source, TARGET_IN: target_in}, logits, name=MODEL_NAME)


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """Parameters per part (embeddings, LSTM stacks, output projection) and in total."""
    layers = num_layers(model)
    parts = {
        "encoder_embedding": model.get_layer("encoder_embedding").count_params(),
        "encoder_lstm": sum(model.get_layer(f"encoder_lstm_{i}").count_params()
                            for i in range(layers)),
        "decoder_embedding": model.get_layer("decoder_embedding").count_params(),
        "decoder_lstm": sum(lstm.count_params() for lstm in decoder_parts(model)[0]),
        "output_projection": 0,  # tied: inside the decoder embedding
    }
    if "output_projection" in {layer.name for layer in model.layers}:
        parts["output_projection"] = model.get_layer("output_projection").count_params()
    return {**parts, "total": model.count_params()}


def output_projection(model: keras.Model):
    """`[…, H]` decoder outputs → `[…, V]` logits (compute dtype) of the `output_projection`
    layer or the tied decoder embedding, with the weights read and cast here, once: call it
    before a decoding loop and use the result inside."""
    if "output_projection" not in {layer.name for layer in model.layers}:
        return model.get_layer("decoder_embedding").projector()
    layer = model.get_layer("output_projection")
    dtype = layer.compute_dtype
    kernel, bias = tf.cast(layer.kernel, dtype), tf.cast(layer.bias, dtype)  # [H, V], [V]
    return lambda outputs: tf.matmul(tf.cast(outputs, dtype), kernel) + bias


def decoder_parts(model: keras.Model) -> tuple[list, LuongAttention | None, bool]:
    """The decoder layers `decoder_lstm_{i}`, the attention layer (None for the paper's
    model) and whether the previous attentional state is fed back (input feeding)."""
    names = {layer.name for layer in model.layers}
    if "decoder" in names:
        decoder = model.get_layer("decoder")
        return decoder.lstms, decoder.attention, True
    lstms = [model.get_layer(f"decoder_lstm_{i}") for i in range(num_layers(model))]
    return lstms, model.get_layer("attention") if "attention" in names else None, False


def num_layers(model: keras.Model) -> int:
    """Counts the `encoder_lstm_{i}` layers of a model built by `build_seq2seq`."""
    return sum(1 for layer in model.layers if layer.name.startswith("encoder_lstm_"))
