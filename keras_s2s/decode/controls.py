"""Search settings chosen per request (`translate_controlled`), with the export's own values
standing in for any left negative, so a served model never needs re-exporting for them."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from keras_s2s.config import DecodeConfig


class Controls(NamedTuple):
    """Length penalty α, output limit `max_len_a * source length + max_len_b`, and the
    GNMT coverage penalty β (attention models; 0 = off). Scalars: numbers or tensors."""

    length_penalty: tf.Tensor | float
    max_len_a: tf.Tensor | float
    max_len_b: tf.Tensor | int
    coverage_penalty: tf.Tensor | float = 0.0

    @classmethod
    def of(cls, decode: DecodeConfig) -> "Controls":
        """The configured settings (Python numbers: no extra graph work)."""
        return cls(decode.length_penalty, decode.max_len_a, decode.max_len_b,
                   decode.coverage_penalty)

    @classmethod
    def from_request(cls, decode: DecodeConfig, length_penalty: tf.Tensor,
                     max_len_a: tf.Tensor, max_len_b: tf.Tensor,
                     coverage_penalty: tf.Tensor) -> "Controls":
        """Request scalars → `Controls`; a negative value means "the configured one"."""
        def chosen(value: tf.Tensor, default) -> tf.Tensor:
            return tf.where(value < 0, tf.constant(default, value.dtype), value)
        return cls(chosen(length_penalty, decode.length_penalty),
                   chosen(max_len_a, decode.max_len_a), chosen(max_len_b, decode.max_len_b),
                   chosen(coverage_penalty, decode.coverage_penalty))
