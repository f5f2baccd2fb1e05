"""tf.data pipeline as small `Dataset → Dataset` steps: tokenize → reverse → EOS → batch."""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from keras_s2s.config import DataConfig
from keras_s2s.constants import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    RESERVED_TOKENS,
    SOURCE,
    TARGET_IN,
    UNK_ID,
)
from keras_s2s.data.corpus import Corpus
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


def bucket_batches(batch_size: int, width: int, max_len: int, batch_tokens: int = 0) -> Transform:
    """Groups pairs whose source *and* target lengths are close, then pads on the right.

    The bucket key is `(src_len // width, tgt_len // width)`, so both sides of a batch are
    about as long as each other and padding stays small.

    Args:
        batch_size: sentences per batch (when `batch_tokens` is 0).
        width: bucket width in tokens.
        max_len: the longest sequence (`</s>` included) the filter lets through.
        batch_tokens: >0 sizes batches by tokens: `batch_tokens // longest side of the bucket`.
    """
    stride = max_len // width + 2  # > any tgt bucket index

    def key(s: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
        return tf.cast((tf.size(s) // width) * stride + tf.size(t) // width, tf.int64)

    def window_size(k: tf.Tensor) -> tf.Tensor:
        if batch_tokens <= 0:
            return tf.constant(batch_size, tf.int64)
        longest = (tf.maximum(k // stride, k % stride) + 1) * width - 1  # in this bucket
        return tf.maximum(tf.constant(batch_tokens, tf.int64) // longest, 1)

    def transform(ds: tf.data.Dataset) -> tf.data.Dataset:
        return ds.group_by_window(
            key_func=key, window_size_func=window_size,
            reduce_func=lambda k, window: window.padded_batch(
                window_size(k), padding_values=(PAD_ID, PAD_ID)))
    return transform


def plain_batches(batch_size: int) -> Transform:
    """Batches pairs in arrival order, padded to the longest of each batch (no bucketing)."""
    return lambda ds: ds.padded_batch(batch_size, padding_values=(PAD_ID, PAD_ID))


def teacher_forcing() -> Transform:
    """`(src [b, S], tgt [b, T])` → `({source, target_in}, target_out)` for `model.fit`.

    The decoder reads `<s> y1 … yn` and must predict `y1 … yn </s>`.
    """
    def split(src: tf.Tensor, tgt: tf.Tensor):
        bos = tf.fill([tf.shape(tgt)[0], 1], tf.constant(BOS_ID, tgt.dtype))
        target_in = tf.concat([bos, tgt[:, :-1]], axis=1)  # [b, T]
        return {SOURCE: src, TARGET_IN: target_in}, tgt
    return lambda ds: ds.map(split)


def word_dropout(rate: float, seed: int | None) -> Transform:
    """Training only: each real input token (source, and decoder input after `<s>`) becomes
    `<unk>` with probability `rate`; the labels stay. Stateless randomness per batch
    (`seed`, batch number) keeps a resumed epoch's batches identical."""
    def drop(index, batch):
        inputs, target_out = batch
        dropped = {}
        for i, key in enumerate((SOURCE, TARGET_IN)):
            ids = inputs[key]
            noise = tf.random.stateless_uniform(
                tf.shape(ids), tf.stack([tf.cast(seed or 0, tf.int64), index * 2 + i]))
            real = ids >= len(RESERVED_TOKENS)  # not <pad>, <s>, </s> (nor <unk>)
            dropped[key] = tf.where(real & (noise < rate), tf.constant(UNK_ID, ids.dtype), ids)
        return dropped, target_out
    return lambda ds: ds if rate <= 0 else ds.enumerate().map(drop)


def dataset_from_pairs(pairs: Sequence[tuple[str, str]]) -> tf.data.Dataset:
    """`(source, target)` string pairs held in memory → a dataset of scalar string pairs."""
    if not pairs:
        raise ValueError("Received no sentence pairs: the corpus is empty after filtering.")
    sources, targets = zip(*pairs)
    return tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))


def dataset_from_corpus(corpus: Corpus) -> tf.data.Dataset:
    """Streams a corpus (read afresh each epoch, so it may exceed memory) as string pairs."""
    spec = tf.TensorSpec([], tf.string)
    return tf.data.Dataset.from_generator(corpus.pairs, output_signature=(spec, spec))


def make_dataset(pairs: tf.data.Dataset, src_tok: Tokenizer, tgt_tok: Tokenizer,
                 data: DataConfig, batch_size: int, shuffle: bool = False,
                 seed: int | None = None, bucketed: bool = True,
                 dropout: float = 0.0) -> tf.data.Dataset:
    """Training batches from a dataset of `(source, target)` scalar strings.

    Args:
        pairs: from `dataset_from_pairs` or `dataset_from_corpus`.
        src_tok, tgt_tok: in-graph tokenizers.
        data: lengths, reversal, bucketing and shuffling settings.
        batch_size: sentences per batch (unless `data.batch_tokens` > 0).
        shuffle: shuffle pairs (buffer `data.shuffle_buffer`, `seed`) and batches.
        seed: shuffling seed; the same seed gives the same batches.
        bucketed: group pairs of similar lengths (False: arrival order, for comparison).
        dropout: word dropout rate (training batches only; `data.word_dropout`).

    Returns:
        A dataset of `({"source": [b, S], "target_in": [b, T]}, target_out [b, T])` int32,
        padded on the right with `<pad>`.
    """
    if shuffle:
        # One fixed order per dataset: every epoch builds its own with its own seed.
        pairs = pairs.shuffle(data.shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
    max_len = max(data.max_src_len, data.max_tgt_len) + 1
    batching = (bucket_batches(batch_size, data.bucket_width, max_len, data.batch_tokens)
                if bucketed else plain_batches(batch_size))
    steps = [
        tokenize(src_tok, tgt_tok),
        reverse_source(data.reverse_source),
        append_eos(),
        unbatch(),
        filter_length(data.max_src_len, data.max_tgt_len),
        batching,
        teacher_forcing(),
        word_dropout(dropout, seed),
    ]
    for step in steps:
        pairs = pairs.apply(step)
    if shuffle:
        # Mix buckets so that batch lengths do not come in order.
        pairs = pairs.shuffle(128, seed=seed, reshuffle_each_iteration=False)
    options = tf.data.Options()
    options.deterministic = data.deterministic
    # Every worker reads the corpus and keeps its share of batches (files are not split).
    options.experimental_distribute.auto_shard_policy = \
        tf.data.experimental.AutoShardPolicy.DATA
    return pairs.with_options(options).prefetch(tf.data.AUTOTUNE)


def count_too_long(pairs: tf.data.Dataset, src_tok: Tokenizer, tgt_tok: Tokenizer,
                   data: DataConfig, chunk: int = 4096) -> int:
    """How many pairs `filter_length` will drop for being longer than the limits."""
    dropped = 0
    for src, tgt in pairs.batch(chunk).map(
            lambda s, t: (src_tok.tokenize(s).row_lengths(), tgt_tok.tokenize(t).row_lengths())):
        dropped += int(tf.reduce_sum(tf.cast(
            (src > data.max_src_len) | (tgt > data.max_tgt_len), tf.int32)))
    return dropped


def padding_stats(batches: tf.data.Dataset) -> dict[str, float]:
    """Counts real and padded tokens in `make_dataset` batches (source + target).

    Returns:
        `{"batches", "sentences", "src_tokens", "tgt_tokens", "padding_fraction"}`, where
        tokens include `</s>` and the fraction is padded slots / all slots.
    """
    totals = dict(batches=0, sentences=0, src_tokens=0, tgt_tokens=0, slots=0)
    for inputs, target_out in batches:
        src = inputs[SOURCE]
        totals["batches"] += 1
        totals["sentences"] += int(tf.shape(src)[0])
        totals["src_tokens"] += int(tf.math.count_nonzero(src))
        totals["tgt_tokens"] += int(tf.math.count_nonzero(target_out))
        totals["slots"] += int(tf.size(src)) + int(tf.size(target_out))
    real = totals["src_tokens"] + totals["tgt_tokens"]
    slots = totals.pop("slots")
    return {**totals, "padding_fraction": round(1.0 - real / max(slots, 1), 4)}
