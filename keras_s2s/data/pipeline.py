"""tf.data pipeline as small `Dataset → Dataset` steps: tokenize → reverse → EOS → batch."""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID, SOURCE, TARGET_IN
from keras_s2s.data.tokenizer import Tokenizer

Transform = Callable[[tf.data.Dataset], tf.data.Dataset]


def tokenize(src_tok: Tokenizer, tgt_tok: Tokenizer, chunk: int = 1024) -> Transform:
    """`(src, tgt)` strings → ragged id batches of up to `chunk` pairs (vectorised)."""
    def transform(ds: tf.data.Dataset) -> tf.data.Dataset:
        return ds.batch(chunk).map(
            lambda s, t: (src_tok.tokenize(s), tgt_tok.tokenize(t)),
            num_parallel_calls=tf.data.AUTOTUNE)
    return transform


def reverse_source(enabled: bool = True) -> Transform:
    """Reverses each source sentence's real tokens (ragged, so before any padding)."""
    def transform(ds: tf.data.Dataset) -> tf.data.Dataset:
        if not enabled:
            return ds
        return ds.map(lambda s, t: (tf.reverse(s, axis=[1]), t))
    return transform


def append_eos() -> Transform:
    """Ends every source and target sentence with `</s>`: `[n, (len)] → [n, (len + 1)]`."""
    def add(ids: tf.RaggedTensor) -> tf.RaggedTensor:
        eos = tf.fill([ids.nrows(), 1], tf.constant(EOS_ID, ids.dtype))
        return tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)

    def transform(ds: tf.data.Dataset) -> tf.data.Dataset:
        return ds.map(lambda s, t: (add(s), add(t)))
    return transform


def unbatch() -> Transform:
    """Ragged chunks → one pair of dense `[len]` id vectors per element."""
    # The identity map turns unbatch's rank-0 RaggedTensorSpec into a plain TensorSpec,
    # which padded_batch requires.
    return lambda ds: ds.unbatch().map(lambda s, t: (s, t))


def filter_length(max_src_len: int, max_tgt_len: int) -> Transform:
    """Drops pairs longer than the limits (`</s>` not counted) and empty ones."""
    def keep(s: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
        src_len, tgt_len = tf.size(s) - 1, tf.size(t) - 1
        return (src_len > 0) & (tgt_len > 0) & (src_len <= max_src_len) & (tgt_len <= max_tgt_len)

    def transform(ds: tf.data.Dataset) -> tf.data.Dataset:
        return ds.filter(keep)
    return transform


def bucket_batches(batch_size: int, boundaries: Sequence[int]) -> Transform:
    """Batches pairs of similar length together and pads them on the right with `<pad>`."""
    def transform(ds: tf.data.Dataset) -> tf.data.Dataset:
        return ds.bucket_by_sequence_length(
            element_length_func=lambda s, t: tf.maximum(tf.size(s), tf.size(t)),
            bucket_boundaries=list(boundaries),
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padding_values=(PAD_ID, PAD_ID))
    return transform


def teacher_forcing() -> Transform:
    """`(src [b, S], tgt [b, T])` → `({source, target_in}, target_out)` for `model.fit`.

    The decoder reads `<s> y1 … yn` and must predict `y1 … yn </s>`.
    """
    def split(src: tf.Tensor, tgt: tf.Tensor):
        bos = tf.fill([tf.shape(tgt)[0], 1], tf.constant(BOS_ID, tgt.dtype))
        target_in = tf.concat([bos, tgt[:, :-1]], axis=1)  # [b, T]
        return {SOURCE: src, TARGET_IN: target_in}, tgt
    return lambda ds: ds.map(split)


def length_boundaries(max_len: int, width: int = 2) -> list[int]:
    """Bucket boundaries every `width` tokens up to `max_len + 1` (the `</s>`)."""
    return list(range(width + 1, max_len + 2, width))


def make_dataset(pairs: Sequence[tuple[str, str]], src_tok: Tokenizer, tgt_tok: Tokenizer,
                 batch_size: int, max_src_len: int, max_tgt_len: int,
                 reverse: bool = True, shuffle_buffer: int = 0,
                 seed: int | None = None) -> tf.data.Dataset:
    """Training batches from `(source, target)` string pairs.

    Args:
        pairs: sentence pairs.
        src_tok, tgt_tok: in-graph tokenizers.
        batch_size: sentences per batch.
        max_src_len, max_tgt_len: longer pairs are dropped.
        reverse: reverse the source tokens (the paper's trick).
        shuffle_buffer: >0 shuffles pairs with `seed` before batching, and batches after.
        seed: shuffling seed.

    Returns:
        A dataset of `({"source": [b, S], "target_in": [b, T]}, target_out [b, T])` int32,
        padded on the right with `<pad>`.
    """
    if not pairs:
        raise ValueError("make_dataset received no sentence pairs.")
    sources, targets = zip(*pairs)
    ds = tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    steps = [
        tokenize(src_tok, tgt_tok),
        reverse_source(reverse),
        append_eos(),
        unbatch(),
        filter_length(max_src_len, max_tgt_len),
        bucket_batches(batch_size, length_boundaries(max(max_src_len, max_tgt_len))),
        teacher_forcing(),
    ]
    for step in steps:
        ds = ds.apply(step)
    if shuffle_buffer:
        ds = ds.shuffle(64, seed=seed)  # mix buckets so batch lengths do not come in order
    return ds.prefetch(tf.data.AUTOTUNE)
