"""Translator: `[batch]` strings in, `[batch]` strings out, entirely inside the TF graph."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.config import DecodeConfig
from keras_s2s.constants import EOS_ID, INPUT_TEXT, OUTPUT_LOG_PROB, OUTPUT_TRANSLATION, PAD_ID
from keras_s2s.data.tokenizer import Tokenizer
from keras_s2s.decode.greedy import EncodeFn, StepFn, greedy_search, max_target_lengths


class Translator(tf.Module):
    """Tokenizes, reverses the source, decodes and detokenizes, as one `tf.function`.

    It receives the model as `encode`/`step` callables, so it never depends on how the
    model was built, and it is what `keras_s2s.export` writes as a SavedModel.

    Args:
        src_tokenizer, tgt_tokenizer: in-graph tokenizers of the run.
        encode: `src_ids [batch, src_len] → states`.
        step: `(tokens [batch], states) → (log_probs [batch, V], states)`.
        reverse_source: reverse the source tokens, as the model was trained.
        decode: length limits.
        trackables: objects whose variables the functions use (e.g. the Keras model), kept
            as attributes so `tf.saved_model.save` finds them.

    Call arguments (`translate`):
        text: `[batch]` tf.string sentences.

    Returns:
        `{"translation": [batch] tf.string, "log_prob": [batch] tf.float32}`.
    """

    def __init__(self, src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer, encode: EncodeFn,
                 step: StepFn, reverse_source: bool, decode: DecodeConfig,
                 trackables: tuple = ()):
        super().__init__(name="translator")
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.trackables = list(trackables)
        self._encode, self._step = encode, step
        self._reverse = reverse_source
        self._decode = decode

    def source_ids(self, text: tf.Tensor) -> tf.Tensor:
        """`[batch]` strings → `[batch, src_len]` ids: tokens (reversed) + `</s>`, right-padded."""
        ids = self.src_tokenizer.tokenize(text)  # [batch, (tokens)]
        if self._reverse:
            ids = tf.reverse(ids, axis=[1])  # ragged: real tokens only, padding stays right
        eos = tf.fill([ids.nrows(), 1], tf.constant(EOS_ID, ids.dtype))
        ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        return ids.to_tensor(default_value=PAD_ID)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_TEXT)])
    def translate(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        src_ids = self.source_ids(text)
        limits = max_target_lengths(src_ids, self._decode.max_len_a, self._decode.max_len_b)
        ids, score = greedy_search(self._encode, self._step, src_ids, limits)
        return {OUTPUT_TRANSLATION: self.tgt_tokenizer.detokenize(ids), OUTPUT_LOG_PROB: score}


def translate_all(translate_fn, texts: list[str], batch_size: int = 64
                  ) -> tuple[list[str], list[float]]:
    """Runs a `text [batch] → {translation, log_prob}` function over many sentences.

    Sentences are grouped by length (less padding, fewer decoding steps) and the results
    are put back in input order.

    Args:
        translate_fn: `Translator.translate` or a reloaded SavedModel signature.
        texts: sentences.
        batch_size: sentences per call.

    Returns:
        Translations and their log-probabilities, in the order of `texts`.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    translations: list[str] = [""] * len(texts)
    scores: list[float] = [0.0] * len(texts)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        out = translate_fn(text=tf.constant([texts[i] for i in chunk]))
        for i, text, score in zip(chunk, out[OUTPUT_TRANSLATION].numpy(),
                                  out[OUTPUT_LOG_PROB].numpy()):
            translations[i] = text.decode("utf-8")
            scores[i] = float(score)
    return translations, scores
