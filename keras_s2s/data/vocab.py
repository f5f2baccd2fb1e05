"""Vocabularies: the N most frequent tokens, reserved tokens first, saved as plain files."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Iterable

from keras_s2s.constants import RESERVED_TOKENS


def split_text(text: str, mode: str) -> list[str]:
    """Python mirror of `Tokenizer.split`: whitespace words or Unicode characters."""
    if mode == "word":
        return text.split()
    if mode == "char":
        return list(text)
    raise ValueError(f"Unknown tokenizer mode {mode!r}; use 'word' or 'char'.")


def build_vocab(texts: Iterable[str], mode: str, size: int) -> list[str]:
    """Keeps the `size - len(RESERVED_TOKENS)` most frequent tokens of `texts`.

    Ties are broken alphabetically so the same corpus always gives the same file.

    Args:
        texts: sentences, one string each.
        mode: "word" or "char" (see `split_text`).
        size: vocabulary size including the reserved tokens.

    Returns:
        The vocabulary, reserved tokens first (`<pad>`, `<unk>`, `<s>`, `</s>`).
    """
    if size <= len(RESERVED_TOKENS):
        raise ValueError(
            f"Vocabulary size must exceed the {len(RESERVED_TOKENS)} reserved tokens; "
            f"received: size={size}.")
    counts = collections.Counter()
    for text in texts:
        counts.update(split_text(text, mode))
    for token in RESERVED_TOKENS:
        counts.pop(token, None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return list(RESERVED_TOKENS) + [tok for tok, _ in ranked[:size - len(RESERVED_TOKENS)]]


def save_vocab(tokens: list[str], path: str | Path) -> None:
    """Writes one token per line (UTF-8, LF)."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for token in tokens:
            handle.write(token + "\n")


def load_vocab(path: str | Path) -> list[str]:
    """Reads a vocabulary file written by `save_vocab` and checks its reserved tokens."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        tokens = [line[:-1] if line.endswith("\n") else line for line in handle]
    head = tuple(tokens[:len(RESERVED_TOKENS)])
    if head != RESERVED_TOKENS:
        raise ValueError(
            f"Vocabulary {path} must start with {RESERVED_TOKENS}; received: {head}.")
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"Vocabulary {path} has duplicate tokens.")
    return tokens
