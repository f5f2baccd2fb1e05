"""Vocabularies: word lists (N most frequent pieces) or SentencePiece models, as run-dir files."""

from __future__ import annotations

import collections
import io
from pathlib import Path
from typing import Iterable

import tensorflow as tf

from keras_s2s.constants import RESERVED_TOKENS
from keras_s2s.data.tokenizer import SentencePieceTokenizer, Tokenizer, VocabTokenizer

SIDES = ("src", "tgt")


def vocab_path(model_dir: str | Path, side: str) -> Path:
    return Path(model_dir) / f"{side}.vocab"


def spm_path(model_dir: str | Path, side: str) -> Path:
    return Path(model_dir) / f"{side}.spm.model"


def count_pieces(texts: tf.data.Dataset, mode: str, chunk: int = 4096) -> collections.Counter:
    """Counts the pieces of `[]`-string elements, split by the in-graph tokenizer itself.

    Using the graph's own split guarantees the vocabulary matches what `tokenize` looks up.
    """
    splitter = VocabTokenizer(list(RESERVED_TOKENS), mode)
    counts: collections.Counter = collections.Counter()
    for pieces in texts.batch(chunk).map(splitter.split).prefetch(2):
        counts.update(pieces.flat_values.numpy().tolist())
    return collections.Counter({k.decode("utf-8"): v for k, v in counts.items()})


def build_vocab(counts: collections.Counter, size: int) -> list[str]:
    """Keeps the `size - 4` most frequent pieces (ties alphabetical), reserved tokens first."""
    if size <= len(RESERVED_TOKENS):
        raise ValueError(f"Vocabulary size must exceed the {len(RESERVED_TOKENS)} reserved "
                         f"tokens; received: size={size}.")
    counts = collections.Counter({k: v for k, v in counts.items() if k not in RESERVED_TOKENS})
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return list(RESERVED_TOKENS) + [tok for tok, _ in ranked[:size - len(RESERVED_TOKENS)]]


def save_vocab(tokens: list[str], path: str | Path) -> None:
    """Writes one token per line (UTF-8, LF)."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(token + "\n" for token in tokens)


def load_vocab(path: str | Path) -> list[str]:
    """Reads a vocabulary written by `save_vocab` and checks its reserved tokens."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        tokens = [line[:-1] if line.endswith("\n") else line for line in handle]
    head = tuple(tokens[:len(RESERVED_TOKENS)])
    if head != RESERVED_TOKENS:
        raise ValueError(f"Vocabulary {path} must start with {RESERVED_TOKENS}; received: {head}.")
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"Vocabulary {path} has duplicate tokens.")
    return tokens


def train_sentencepiece(texts: Iterable[str], size: int, model_type: str = "unigram") -> bytes:
    """Trains a SentencePiece model with `<pad> <unk> <s> </s>` at ids 0-3.

    Returns:
        The serialized model proto.
    """
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=size,
        model_type=model_type, character_coverage=1.0, hard_vocab_limit=False,
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece=RESERVED_TOKENS[0],
        unk_piece=RESERVED_TOKENS[1], bos_piece=RESERVED_TOKENS[2], eos_piece=RESERVED_TOKENS[3],
        input_sentence_size=2_000_000, shuffle_input_sentence=True, minloglevel=2)
    return model.getvalue()


def _spm_pieces(model: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def build_side(texts: tf.data.Dataset, mode: str, size: int, model_dir: str | Path,
               side: str) -> None:
    """Builds one side's vocabulary from `[]`-string elements into the run directory."""
    if mode == "sentencepiece":
        model = train_sentencepiece((t.decode("utf-8") for t in texts.as_numpy_iterator()), size)
        spm_path(model_dir, side).write_bytes(model)
        save_vocab(_spm_pieces(model), vocab_path(model_dir, side))  # readable, for apps
    else:
        save_vocab(build_vocab(count_pieces(texts, mode), size), vocab_path(model_dir, side))


def load_tokenizer(model_dir: str | Path, side: str, mode: str) -> Tokenizer:
    """The tokenizer of one side of a run (`side` is "src" or "tgt")."""
    name = f"{side}_tokenizer"
    if mode == "sentencepiece":
        path = spm_path(model_dir, side)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: build it with `keras-s2s vocab`.")
        return SentencePieceTokenizer(path.read_bytes(), name=name)
    path = vocab_path(model_dir, side)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it with `keras-s2s vocab`.")
    return VocabTokenizer(load_vocab(path), mode, name=name)


def vocab_exists(model_dir: str | Path, modes: tuple[str, str]) -> bool:
    """Whether both sides' vocabulary files are in the run directory already."""
    return all((spm_path if mode == "sentencepiece" else vocab_path)(model_dir, side).is_file()
               for side, mode in zip(SIDES, modes))
