"""In-graph tokenizers (core TF ops, or TF-Text's SentencePiece op), so exports carry them."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.constants import EOS_ID, RESERVED_TOKENS, UNK_ID

VOCAB_MODES = ("space", "word", "char")
WORD_START = "▁"  # marks a piece that followed whitespace, so spacing can be restored
_LETTERS = r"\p{L}\p{N}\p{M}"


def normalize_spaces(text: tf.Tensor) -> tf.Tensor:
    """Repairs invalid UTF-8 (→ U+FFFD) and maps every Unicode space (no-break, thin,
    zero-width …) and tab to one ASCII space."""
    text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
    text = tf.strings.regex_replace(text, r"[\p{Zs}\x{200B}\t\r\n]+", " ")
    return tf.strings.strip(text)


def shown(ids: tf.Tensor) -> tf.Tensor:
    """`[batch, len]` ids → `[batch, len]` bool: the real tokens, up to the first `</s>`, no
    reserved ids except `<unk>`, which stays visible."""
    ids = tf.cast(ids, tf.int32)
    before_eos = tf.math.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1, exclusive=True) == 0
    return before_eos & ((ids >= len(RESERVED_TOKENS)) | (ids == UNK_ID))


def keep_before_eos(ids: tf.Tensor) -> tf.RaggedTensor:
    """`[batch, len]` ids → `[batch, (len)]` the tokens `shown` keeps."""
    return tf.ragged.boolean_mask(tf.cast(ids, tf.int32), shown(ids))


class Tokenizer(tf.Module):
    """Base: `tokenize([batch] strings) → [batch, (tokens)] int32`; `detokenize` back."""

    mode = "base"
    vocab_size = 0

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        raise NotImplementedError

    def detokenize(self, ids: tf.Tensor, unk_words: tf.Tensor | None = None) -> tf.Tensor:
        """`[batch, len]` ids (stopping at the first `</s>`) → `[batch]` strings.

        `unk_words` (`[batch, len]` strings, "" for none) replaces `<unk>` at the same
        positions (vocabulary tokenizers only)."""
        raise NotImplementedError

    def id_to_piece(self, ids: tf.Tensor) -> tf.Tensor:
        """Token ids (any shape) → their vocabulary pieces (strings, same shape)."""
        raise NotImplementedError

    def pieces(self, text: tf.Tensor) -> tf.RaggedTensor:
        """`[batch]` strings → `[batch, (tokens)]` the text of each token (an unknown word
        stays itself, where `tokenize` gives `<unk>`)."""
        return self.id_to_piece(self.tokenize(text))


class VocabTokenizer(Tokenizer):
    """Splits text into pieces and looks them up in a vocabulary (unknown → `<unk>`).

    Args:
        vocab: tokens, reserved tokens first (see `keras_s2s.data.vocab`).
        mode: "space" splits on whitespace and joins with spaces (pre-tokenized text);
            "word" splits words and punctuation apart, marking pieces that followed a space
            with "▁" so detokenization restores the original spacing; "char" splits into
            Unicode characters.

    Example:

    >>> tok = VocabTokenizer(["<pad>", "<unk>", "<s>", "</s>", "▁un", "▁deux", "."], "word")
    >>> tok.tokenize(tf.constant(["un deux."])).to_list()
    [[4, 5, 6]]
    """

    def __init__(self, vocab: list[str], mode: str, name: str | None = None):
        super().__init__(name=name)
        if mode not in VOCAB_MODES:
            raise ValueError(f"Tokenizer mode must be one of {VOCAB_MODES}; received: {mode!r}.")
        if tuple(vocab[:len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(f"Vocabulary must start with {RESERVED_TOKENS}.")
        self.mode = mode
        self.vocab_size = len(vocab)
        self._vocab = tf.constant(vocab, dtype=tf.string)
        # What detokenize shows: in "word" mode <unk> stands as a word of its own.
        shown = list(vocab)
        if mode == "word":
            shown[UNK_ID] = WORD_START + vocab[UNK_ID]
        self._shown = tf.constant(shown, dtype=tf.string)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                self._vocab, tf.range(len(vocab), dtype=tf.int32)),
            default_value=UNK_ID)

    def split(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Splits `[batch]` strings into `[batch, (pieces)]` strings (vocabularies count these)."""
        text = normalize_spaces(text)
        if self.mode == "char":
            return tf.strings.unicode_split(text, "UTF-8", errors="replace")
        if self.mode == "word":
            text = tf.strings.regex_replace(text, WORD_START, "_")
            text = tf.strings.regex_replace(text, r"(^| )(\S)", WORD_START + r"\2")  # "▁A▁man."
            # Each piece: an optional marker and a run of letters/digits, or one other sign.
            text = tf.strings.regex_replace(
                text, f"({WORD_START}?[{_LETTERS}]+|{WORD_START}?[^{_LETTERS}{WORD_START}])",
                r" \1 ")
        return tf.strings.split(text)

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        return tf.ragged.map_flat_values(self._table.lookup, self.split(text))

    def pieces(self, text: tf.Tensor) -> tf.RaggedTensor:
        return self.split(text)

    def id_to_piece(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self._vocab, ids)

    def as_pieces(self, words: tf.Tensor) -> tf.Tensor:
        """Source pieces (`split` of any mode) → pieces of this vocabulary's mode, for
        `detokenize(…, unk_words)`: "word" mode marks each as a word of its own."""
        words = tf.strings.regex_replace(words, f"^{WORD_START}", "")
        return tf.strings.join([WORD_START, words]) if self.mode == "word" else words

    def detokenize(self, ids: tf.Tensor, unk_words: tf.Tensor | None = None) -> tf.Tensor:
        ids = tf.cast(ids, tf.int32)
        pieces = tf.gather(self._shown, ids)  # [batch, len]
        if unk_words is not None:
            pieces = tf.where((ids == UNK_ID) & (unk_words != ""), unk_words, pieces)
        pieces = tf.ragged.boolean_mask(pieces, shown(ids))
        if self.mode == "space":
            return tf.strings.reduce_join(pieces, axis=1, separator=" ")
        text = tf.strings.reduce_join(pieces, axis=1)
        if self.mode == "word":
            text = tf.strings.strip(tf.strings.regex_replace(text, WORD_START, " "))
        return text


class SentencePieceTokenizer(Tokenizer):
    """Subwords with a trained SentencePiece model, run by TF-Text's in-graph op.

    The model must have been trained with `<pad>`, `<unk>`, `<s>`, `</s>` at ids 0-3
    (`keras_s2s.data.vocab.train_sentencepiece` does so); detokenization is exact up to
    SentencePiece's normalisation.

    Args:
        model: the serialized SentencePiece model proto.
    """

    mode = "sentencepiece"

    def __init__(self, model: bytes, name: str | None = None):
        super().__init__(name=name)
        import tensorflow_text as tf_text

        self._sp = tf_text.SentencepieceTokenizer(model=model, out_type=tf.int32)
        self.vocab_size = int(self._sp.vocab_size())

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        return self._sp.tokenize(normalize_spaces(text))

    def id_to_piece(self, ids: tf.Tensor) -> tf.Tensor:
        return self._sp.id_to_string(ids)

    def detokenize(self, ids: tf.Tensor, unk_words: tf.Tensor | None = None) -> tf.Tensor:
        if unk_words is not None:
            raise ValueError("Unknown-word replacement needs a word, space or char vocabulary; "
                             "SentencePiece spells rare words in pieces instead.")
        return self._sp.detokenize(keep_before_eos(ids))
