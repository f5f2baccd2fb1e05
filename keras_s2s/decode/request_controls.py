"""The per-request signatures of the `Translator`: a forced target prefix and every search
setting chosen by the request (`translate_controlled`), and sampling (`translate_sample`).

`RequestControls` is mixed into `Translator`; it uses the Translator's tokenizers, source
preparation, limits and output assembly.
"""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import (
    INPUT_BEAM_SIZE,
    INPUT_COVERAGE_PENALTY,
    INPUT_LENGTH_PENALTY,
    INPUT_MAX_LEN_A,
    INPUT_MAX_LEN_B,
    INPUT_N_BEST,
    INPUT_NUM_SAMPLES,
    INPUT_PREFIX,
    INPUT_SEED,
    INPUT_TEMPERATURE,
    INPUT_TEXT,
    INPUT_TOP_K,
    INPUT_TOP_P,
    PAD_ID,
)
from keras_s2s.decode.controls import Controls
from keras_s2s.decode.prefix import prefix_constraint, with_prefix_room
from keras_s2s.decode.sampling import Sampling, sample_search
from keras_s2s.decode.step import ConstrainFn

TEXT = tf.TensorSpec([None], tf.string, name=INPUT_TEXT)
PREFIX = tf.TensorSpec([None], tf.string, name=INPUT_PREFIX)


def _scalar(dtype: tf.DType, name: str) -> tf.TensorSpec:
    return tf.TensorSpec([], dtype, name=name)


class RequestControls:
    """Signatures whose search settings come with each request (mixed into `Translator`)."""

    def _prefix(self, prefix: tf.Tensor | None, src_ids: tf.Tensor, limits: tf.Tensor
                ) -> tuple[ConstrainFn | None, tf.Tensor]:
        """`[b]` prefix strings ("" = none) → the search's constraint (None without
        prefixes) and length limits that leave room for them."""
        if prefix is None:
            return None, limits
        tf.debugging.assert_equal(tf.shape(prefix), tf.shape(src_ids)[:1], message=(
            "prefix must hold one string per text (\"\" for none)"))
        ids = self.tgt_tokenizer.tokenize(prefix)  # [b, (p)]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        return (prefix_constraint(ids.to_tensor(default_value=PAD_ID), lengths),
                with_prefix_room(limits, lengths))

    @tf.function(input_signature=[TEXT, PREFIX, _scalar(tf.int32, INPUT_BEAM_SIZE),
                                  _scalar(tf.int32, INPUT_N_BEST),
                                  _scalar(tf.float32, INPUT_LENGTH_PENALTY),
                                  _scalar(tf.float32, INPUT_MAX_LEN_A),
                                  _scalar(tf.int32, INPUT_MAX_LEN_B),
                                  _scalar(tf.float32, INPUT_COVERAGE_PENALTY)])
    def translate_controlled(self, text, prefix, beam_size, n_best, length_penalty, max_len_a,
                             max_len_b, coverage_penalty) -> dict[str, tf.Tensor]:
        """`translate_nbest` with every search setting chosen per request: `text [b]`,
        `prefix [b]` (each output starts with it; "" = free), scalars `beam_size` (< 1: the
        export's own), `n_best` (at most the beam), `length_penalty` α, `max_len_a`,
        `max_len_b` (output limit `a * source tokens + b`, raised to fit the prefix) and
        `coverage_penalty` β (attention models only). A negative α, a, b or β means the
        export's own value."""
        tf.debugging.assert_positive(n_best, message="n_best must be >= 1")
        beam_size = tf.where(beam_size < 1, self._decode.beam_size, beam_size)
        controls = Controls.from_request(self._decode, length_penalty, max_len_a, max_len_b,
                                         coverage_penalty)
        return self.search(text, beam_size, n_best, prefix, controls)

    @tf.function(input_signature=[TEXT, PREFIX, _scalar(tf.int32, INPUT_NUM_SAMPLES),
                                  _scalar(tf.float32, INPUT_TEMPERATURE),
                                  _scalar(tf.int32, INPUT_TOP_K), _scalar(tf.float32, INPUT_TOP_P),
                                  _scalar(tf.int64, INPUT_SEED)])
    def translate_sample(self, text, prefix, num_samples, temperature, top_k, top_p,
                         seed) -> dict[str, tf.Tensor]:
        """`num_samples` sampled translations of each of `text [b]` (for back-translation):
        `temperature` (0 = greedy), `top_k` (0 = all), `top_p` (1 = all), `prefix [b]` as
        in `translate_controlled`, and `seed`: the same seed gives a sentence the same
        samples in any batch. Outputs as `translate_nbest`, in sample order; `scores` and
        `log_probs` are the model's log-probabilities of the samples."""
        tf.debugging.assert_positive(num_samples, message="num_samples must be >= 1")
        tf.debugging.assert_non_negative(temperature, message="temperature must be >= 0")
        tf.debugging.assert_greater(top_p, 0.0, message="top_p must be in (0, 1]")
        src_ids, lengths = self._source(text)
        constrain, limits = self._prefix(prefix, src_ids, self._limits(src_ids))
        hyps = sample_search(self._encode, self._step, src_ids, limits, num_samples,
                             Sampling(temperature, top_k, top_p), seed,
                             tf.strings.to_hash_bucket_fast(text, 2 ** 62), constrain)
        return {**self._outputs(text, src_ids, hyps), **lengths}
