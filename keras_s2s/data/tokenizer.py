"""In-graph tokenizer: strings ↔ ids with core TF ops only, so exports carry it."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import EOS_ID, RESERVED_TOKENS, UNK_ID


class Tokenizer(tf.Module):
    """Maps sentences to ids and back inside a TF graph (no `tf.py_function`).

    Args:
        vocab: tokens, reserved tokens first (see `keras_s2s.data.vocab`).
        mode: "word" splits on whitespace and joins with a space; "char" splits into
            Unicode characters and joins with nothing.

    Example:

    >>> tok = Tokenizer(["<pad>", "<unk>", "<s>", "</s>", "un", "deux"], "word")
    >>> tok.tokenize(tf.constant(["un deux trois"]))
    <tf.RaggedTensor [[4, 5, 1]]>
    """

    def __init__(self, vocab: list[str], mode: str, name: str | None = None):
        super().__init__(name=name)
        if mode not in ("word", "char"):
            raise ValueError(f"Tokenizer mode must be 'word' or 'char'; received: {mode!r}.")
        if tuple(vocab[:len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(f"Vocabulary must start with {RESERVED_TOKENS}.")
        self.mode = mode
        self.vocab_size = len(vocab)
        self._vocab = tf.constant(vocab, dtype=tf.string)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                self._vocab, tf.range(len(vocab), dtype=tf.int32)),
            default_value=UNK_ID)

    def split(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Splits `[batch]` strings into `[batch, (tokens)]` string pieces."""
        if self.mode == "word":
            return tf.strings.split(text)
        return tf.strings.unicode_split(text, "UTF-8", errors="replace")

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Maps `[batch]` strings to `[batch, (tokens)]` int32 ids; unknown → `<unk>`."""
        return tf.ragged.map_flat_values(self._table.lookup, self.split(text))

    def detokenize(self, ids: tf.Tensor) -> tf.Tensor:
        """Maps `[batch, length]` ids to `[batch]` strings.

        Everything from the first `</s>` on is dropped, and so are the other reserved
        tokens except `<unk>`, which stays visible.
        """
        ids = tf.cast(ids, tf.int32)
        before_eos = tf.math.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1, exclusive=True) == 0
        keep = before_eos & ((ids >= len(RESERVED_TOKENS)) | (ids == UNK_ID))
        pieces = tf.ragged.boolean_mask(tf.gather(self._vocab, ids), keep)
        separator = " " if self.mode == "word" else ""
        return tf.strings.reduce_join(pieces, axis=1, separator=separator)
