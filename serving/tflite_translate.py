"""Translate with an exported `.tflite` in `ai-edge-litert`, tokenizing in plain Python (no TF).

    python -m serving.tflite_translate model.tflite "A man is riding a bike." [--beam]

This is what a phone app does: read `model.json` beside the model, turn text into ids with
the vocabulary files, run a signature, and turn ids back into text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np

WORD_START = "▁"
_SPACES = re.compile(r"[\t\r\n\u200b]")


def normalize_spaces(text: str) -> str:
    """Every Unicode space (and tab, newline, zero-width space) → one ASCII space, stripped."""
    text = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in _SPACES.sub(" ", text))
    return re.sub(" +", " ", text).strip()


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


def split_words(text: str) -> list[str]:
    """The `word` tokenizer: runs of letters/digits/marks, or single other signs; each piece
    that followed a space carries a leading "▁"."""
    pieces: list[str] = []
    for chunk in normalize_spaces(text).replace(WORD_START, "_").split(" "):
        start = True
        i = 0
        while i < len(chunk):
            j = i + 1
            if _is_word_char(chunk[i]):
                while j < len(chunk) and _is_word_char(chunk[j]):
                    j += 1
            pieces.append((WORD_START if start else "") + chunk[i:j])
            start, i = False, j
    return [p for p in pieces if p]


class Vocabulary:
    """A run's `*.vocab` (one token per line) or `*.spm.model` (needs `sentencepiece`)."""

    def __init__(self, path: Path, mode: str, unk_id: int, eos_id: int):
        self.mode, self.unk_id, self.eos_id = mode, unk_id, eos_id
        if mode == "sentencepiece":
            import sentencepiece

            self._sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
            return
        self.tokens = path.read_text(encoding="utf-8").split("\n")
        if self.tokens and self.tokens[-1] == "":
            self.tokens.pop()
        self.ids = {token: i for i, token in enumerate(self.tokens)}

    def encode(self, text: str) -> list[int]:
        if self.mode == "sentencepiece":
            return self._sp.encode(normalize_spaces(text))
        text = normalize_spaces(text)
        pieces = {"word": split_words, "space": str.split, "char": list}[self.mode](text)
        return [self.ids.get(piece, self.unk_id) for piece in pieces]

    def decode(self, ids: list[int]) -> str:
        ids = ids[:ids.index(self.eos_id)] if self.eos_id in ids else ids
        ids = [i for i in ids if i > self.eos_id or i == self.unk_id]  # no reserved ids
        if self.mode == "sentencepiece":
            return self._sp.decode(ids)
        pieces = [self.tokens[i] for i in ids]
        if self.mode == "space":
            return " ".join(pieces)
        if self.mode == "word":
            shown = [WORD_START + p if i == self.unk_id else p for p, i in zip(pieces, ids)]
            return "".join(shown).replace(WORD_START, " ").strip()
        return "".join(pieces)


class TFLiteTranslator:
    """Runs the `greedy` and `beam` signatures of an exported `.tflite` file.

    Args:
        model_path: the `.tflite` file; its `.json` and vocabularies must be beside it.
        truncate: cut sentences longer than `max_src_len` tokens (as the SavedModel does
            at its own limit) instead of raising ValueError.
        num_threads: interpreter threads.
    """

    def __init__(self, model_path: str | Path, truncate: bool = False, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        model_path = Path(model_path)
        self.meta = json.loads(model_path.with_suffix(".json").read_text(encoding="utf-8"))
        folder, meta = model_path.parent, self.meta
        self.src, self.tgt = (Vocabulary(folder / meta["vocab_files"][side],
                                         meta["tokenizers"][side], meta["unk_id"],
                                         meta["eos_id"]) for side in ("src", "tgt"))
        self.truncate = truncate
        self.interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._runners = {name: self.interpreter.get_signature_runner(name)
                         for name in ("greedy", "beam")}

    def source_ids(self, texts: list[str]) -> np.ndarray:
        """`[batch, max_src_len]` int32 ids in reading order, `<pad>`-padded."""
        width, batch = self.meta["max_src_len"], self.meta["batch"]
        if len(texts) != batch:
            raise ValueError(f"This model translates {batch} sentence(s) per call; received "
                             f"{len(texts)}. Export with --tflite-batch {len(texts)} or split.")
        ids = np.full([batch, width], self.meta["pad_id"], np.int32)
        for row, text in enumerate(texts):
            tokens = self.src.encode(text)
            if len(tokens) > width and not self.truncate:
                raise ValueError(f"Sentence {row} has {len(tokens)} tokens but the model takes "
                                 f"at most {width}; pass truncate=True to cut it, or export "
                                 f"with a larger --max-src-len.")
            ids[row, :min(len(tokens), width)] = tokens[:width]
        return ids

    def ids(self, texts: list[str], beam: bool = False) -> dict[str, np.ndarray]:
        """Raw outputs of the `beam` or `greedy` signature for `texts`."""
        return self._runners["beam" if beam else "greedy"](src_ids=self.source_ids(texts))

    def translate(self, texts: list[str], beam: bool = False) -> list[str]:
        """The best translation of each sentence."""
        out = self.ids(texts, beam)["ids"]
        best = out[:, 0] if beam else out  # beam: [b, k, L], best first
        return [self.tgt.decode(row.tolist()) for row in best]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the .tflite file (its .json and vocabularies beside it)")
    parser.add_argument("text", nargs="+", help="sentences to translate")
    parser.add_argument("--beam", action="store_true", help="beam search (else greedy)")
    parser.add_argument("--truncate", action="store_true", help="cut over-long sentences")
    args = parser.parse_args(argv)
    translator = TFLiteTranslator(args.model, truncate=args.truncate)
    try:
        for text in args.text:
            print(translator.translate([text], beam=args.beam)[0])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
