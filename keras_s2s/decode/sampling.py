"""Sampled translations (e.g. for back-translation): temperature, top-k and top-p (nucleus)
in the greedy search's loop, reproducible per sentence from a seed.

The randomness is a counter-based hash of (seed, sentence, sample, step), computed with
integer ops every TensorFlow build has: a sentence gets the same samples whatever batch it
is in, and no random-op state needs saving or restoring.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.step import (
    NEG_INF,
    ConstrainFn,
    EncodeFn,
    Hypotheses,
    PickFn,
    StepFn,
)

_MASK32 = 0xFFFFFFFF
_xor, _and = tf.bitwise.bitwise_xor, tf.bitwise.bitwise_and
_shr, _shl = tf.bitwise.right_shift, tf.bitwise.left_shift


class Sampling(NamedTuple):
    """How to sample (scalars; tensors or Python numbers).

    temperature: divides the log-probs; 0 is greedy.
    top_k: sample among the k most probable tokens; 0 = all.
    top_p: sample among the smallest set of most probable tokens whose probability (after
        the temperature) reaches p; 1 = all.
    """

    temperature: tf.Tensor | float = 1.0
    top_k: tf.Tensor | int = 0
    top_p: tf.Tensor | float = 1.0


def _mul32(x: tf.Tensor, c: int) -> tf.Tensor:
    """`(x * c) mod 2**32` for int64 `x` < 2**32, without overflowing int64."""
    low = _and(x, tf.constant(0xFFFF, tf.int64)) * c
    high = _shl(_shr(x, tf.constant(16, tf.int64)) * (c & 0xFFFF), tf.constant(16, tf.int64))
    return _and(low + high, tf.constant(_MASK32, tf.int64))


def hash32(x: tf.Tensor) -> tf.Tensor:
    """A well-mixed 32-bit hash ("lowbias32") of int64 values < 2**32, as int64."""
    def shifted(v: tf.Tensor, bits: int) -> tf.Tensor:
        return _xor(v, _shr(v, tf.constant(bits, tf.int64)))
    x = _and(tf.cast(x, tf.int64), tf.constant(_MASK32, tf.int64))
    x = _mul32(shifted(x, 16), 0x7FEB352D)
    x = _mul32(shifted(x, 15), 0x846CA68B)
    return shifted(x, 16)


def row_keys(seed: tf.Tensor, text_hashes: tf.Tensor, num_samples: tf.Tensor) -> tf.Tensor:
    """`[b]` sentence hashes and a scalar seed → `[b * N]` int64 keys, sentence-major (row
    `i * N + j` is sample j of sentence i)."""
    seed = tf.cast(seed, tf.int64)
    base = hash32(_xor(hash32(seed), _shr(seed, tf.constant(32, tf.int64))))
    sentence = hash32(_xor(base, hash32(text_hashes)))  # [b]
    samples = tf.range(tf.cast(num_samples, tf.int64))  # [N]
    keys = hash32(_xor(sentence[:, None], hash32(samples[None, :] + 0x9E3779B9)))
    return tf.reshape(keys, [-1])


def uniform(keys: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
    """`[rows]` keys and the step → `[rows]` float32 in [0, 1), one per row and step."""
    mixed = hash32(_xor(keys, hash32(tf.cast(t, tf.int64) + 0x632BE5AB)))
    return tf.cast(_shr(mixed, tf.constant(8, tf.int64)), tf.float32) / float(1 << 24)


def make_sampler(options: Sampling, keys: tf.Tensor) -> PickFn:
    """The `pick` of `greedy_search` that samples with `options`, each row from its key."""
    temperature = tf.convert_to_tensor(options.temperature, tf.float32)
    top_k = tf.convert_to_tensor(options.top_k, tf.int32)
    top_p = tf.convert_to_tensor(options.top_p, tf.float32)

    def pick(t: tf.Tensor, log_probs: tf.Tensor) -> tf.Tensor:
        vocab = tf.shape(log_probs)[-1]
        scaled = log_probs / tf.maximum(temperature, 1e-6)
        ranked, order = tf.math.top_k(scaled, k=vocab)  # [rows, V], most probable first
        probs = tf.nn.softmax(ranked)
        rank = tf.range(vocab)[None, :]
        before = tf.cumsum(probs, axis=-1, exclusive=True)  # probability ranked above
        keep = (rank == 0) | (((top_k <= 0) | (rank < top_k)) & (before < top_p))
        keep &= ranked > NEG_INF / 2  # never a banned token
        kept = tf.where(keep, probs, 0.0)
        cdf = tf.cumsum(kept, axis=-1)  # [rows, V]
        target = uniform(keys, t)[:, None] * cdf[:, -1:]
        index = tf.reduce_sum(tf.cast((cdf <= target) & keep, tf.int32), axis=-1)
        index = tf.minimum(index, tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1) - 1)
        index = tf.where(temperature <= 0.0, 0, index)  # greedy
        return tf.gather(order, index, batch_dims=1)
    return pick


def sample_search(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor, max_lengths: tf.Tensor,
                  num_samples: tf.Tensor | int, options: Sampling, seed: tf.Tensor | int,
                  text_hashes: tf.Tensor, constrain: ConstrainFn | None = None
                  ) -> Hypotheses:
    """`num_samples` sampled translations of each sentence.

    Args:
        encode, step: the model (see `greedy_search`).
        src_ids: `[b, S]` int32, right-padded.
        max_lengths: `[b]` int32, most target tokens per sentence (`</s>` included).
        num_samples: scalar N ≥ 1.
        options: temperature, top-k, top-p.
        seed: scalar int64: the same seed gives the same samples.
        text_hashes: `[b]` int64, one per sentence (e.g. of its text), so a sentence's
            samples do not depend on the batch it is in.
        constrain: as in `greedy_search`, on the `[b * N]` rows (`rows` = their sentences).

    Returns:
        `Hypotheses` with `n = N` in sample order (not ranked); scores are log-probs under
        the model (not under the sampling distribution).
    """
    batch = tf.shape(src_ids)[0]
    num_samples = tf.convert_to_tensor(num_samples, tf.int32)
    keys = row_keys(seed, text_hashes, num_samples)
    rows = tf.repeat(src_ids, num_samples, axis=0)  # [b * N, S]
    sentence_of = tf.repeat(tf.range(batch), num_samples)

    def tiled(t, row_ids, log_probs):  # sample rows → their sentences' rows
        return constrain(t, tf.gather(sentence_of, row_ids), log_probs)
    hyps = greedy_search(encode, step, rows, tf.repeat(max_lengths, num_samples),
                         pick=make_sampler(options, keys),
                         constrain=None if constrain is None else tiled)

    def per_sentence(x: tf.Tensor | None) -> tf.Tensor | None:  # [b * N, 1, ...] → [b, N, ...]
        if x is None:
            return None
        return tf.reshape(x, tf.concat([[batch, num_samples], tf.shape(x)[2:]], axis=0))
    return Hypotheses(*(per_sentence(x) for x in hyps))
