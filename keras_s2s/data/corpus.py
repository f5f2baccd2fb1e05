"""Streaming corpus readers (text pairs, TSV, TFDS, in-memory) with errors that lose nothing."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path
from typing import Iterator, Sequence, get_args

from keras_s2s.config import OnBadLine

Pair = tuple[str, str]
ON_BAD_LINE = get_args(OnBadLine)


class CorpusError(ValueError):
    """A corpus that cannot be used as it is; the message names the file, line and fix."""


@dataclasses.dataclass
class ReadReport:
    """What a pass over a corpus met: kept pairs, skipped bad lines, dropped empty pairs."""

    pairs: int = 0
    skipped: int = 0  # undecodable or malformed lines, with on_bad_line="skip"
    empty: int = 0  # pairs with an empty (or blank) side, always dropped

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _check_on_bad_line(on_bad_line: str) -> None:
    if on_bad_line not in ON_BAD_LINE:
        raise ValueError(f"on_bad_line must be one of {ON_BAD_LINE}; received: {on_bad_line!r}.")


def _raw_lines(path: Path) -> Iterator[bytes]:
    if path.is_dir():
        raise CorpusError(f"{path} is a directory; pass the corpus file itself "
                          "(one sentence per line, .gz accepted).")
    if not path.is_file():
        raise CorpusError(f"Corpus file not found: {path}.")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for raw in handle:
            yield raw.rstrip(b"\r\n")


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{path}, line {number}: invalid UTF-8 ({err.reason} at byte {err.start}). "
            "Re-encode the file as UTF-8 (e.g. iconv), or pass --on-bad-line skip to skip "
            "such lines (they are counted).") from None


def iter_lines(path: str | Path) -> Iterator[str]:
    """Yields a UTF-8 text file's lines (`.gz` accepted) without line endings.

    Raises:
        CorpusError: the file is missing or a line is not valid UTF-8 (file and line named).
    """
    path = Path(path)
    for number, raw in enumerate(_raw_lines(path), start=1):
        yield _decode(raw, path, number)


class Corpus:
    """A source of sentence pairs, read afresh (streaming) on every `pairs()` call.

    Subclasses implement `_records()`, yielding `(line_number, source, target)` where a
    side is None for a line that could not be read (it raises or is skipped by policy).
    """

    description = "corpus"

    def __init__(self, on_bad_line: str = "error"):
        _check_on_bad_line(on_bad_line)
        self.on_bad_line = on_bad_line
        self.report = ReadReport()

    def _records(self) -> Iterator[tuple[int, str | None, str | None]]:
        raise NotImplementedError

    def pairs(self) -> Iterator[Pair]:
        """Yields the usable `(source, target)` pairs; `self.report` counts the rest."""
        self.report = ReadReport()
        for _, src, tgt in self._records():
            if src is None or tgt is None:
                self.report.skipped += 1
            elif not src.strip() or not tgt.strip():
                self.report.empty += 1
            else:
                self.report.pairs += 1
                yield src, tgt

    def scan(self) -> ReadReport:
        """Reads the whole corpus once, so errors surface before any training starts."""
        for _ in self.pairs():
            pass
        return self.report


class TextPairCorpus(Corpus):
    """Two line-aligned plain-text files (one sentence per line, UTF-8, `.gz` accepted)."""

    def __init__(self, src_path: str | Path, tgt_path: str | Path, on_bad_line: str = "error"):
        super().__init__(on_bad_line)
        self.src_path, self.tgt_path = Path(src_path), Path(tgt_path)
        self.description = f"{self.src_path} + {self.tgt_path}"

    def _side(self, raw: bytes, path: Path, number: int) -> str | None:
        try:
            return _decode(raw, path, number)
        except CorpusError:
            if self.on_bad_line == "skip":
                return None
            raise

    def _records(self):
        src_lines, tgt_lines = _raw_lines(self.src_path), _raw_lines(self.tgt_path)
        number = 0
        for number, src_raw in enumerate(src_lines, start=1):
            tgt_raw = next(tgt_lines, None)
            if tgt_raw is None:
                self._mismatch(number + sum(1 for _ in src_lines), number - 1)
            yield (number, self._side(src_raw, self.src_path, number),
                   self._side(tgt_raw, self.tgt_path, number))
        extra = sum(1 for _ in tgt_lines)
        if extra:
            self._mismatch(number, number + extra)

    def _mismatch(self, src_count: int, tgt_count: int) -> None:
        raise CorpusError(
            f"Source and target files must have one line per sentence pair, but "
            f"{self.src_path} has {src_count} lines and {self.tgt_path} has {tgt_count}. "
            "Check that both files are the same split and language pair.")


class TsvCorpus(Corpus):
    """One tab-separated file, a sentence pair per line (e.g. Tatoeba/Anki `English<TAB>French`).

    Args:
        path: the TSV file (`.gz` accepted).
        src_column, tgt_column: 0-based columns of the source and target sentences.
    """

    def __init__(self, path: str | Path, src_column: int = 0, tgt_column: int = 1,
                 on_bad_line: str = "error"):
        super().__init__(on_bad_line)
        self.path, self.columns = Path(path), (src_column, tgt_column)
        self.description = str(self.path)

    def _records(self):
        needed = max(self.columns) + 1
        for number, raw in enumerate(_raw_lines(self.path), start=1):
            try:
                fields = _decode(raw, self.path, number).split("\t")
                if len(fields) < needed:
                    raise CorpusError(
                        f"{self.path}, line {number}: expected at least {needed} tab-separated "
                        f"columns, received {len(fields)}. Fix the line, or pass "
                        "--on-bad-line skip to skip such lines (they are counted).")
            except CorpusError:
                if self.on_bad_line == "skip":
                    yield number, None, None
                    continue
                raise
            yield number, fields[self.columns[0]], fields[self.columns[1]]


class TfdsCorpus(Corpus):
    """A TensorFlow Datasets translation set, e.g. `wmt14_translate/fr-en`, split `train`.

    Args:
        name: the TFDS builder name with its config.
        split: the TFDS split (e.g. "train", "validation", "train[:1%]").
        src_lang, tgt_lang: the feature keys of the two sides (e.g. "en", "fr").
        data_dir: where the prepared data lives (TFDS' default otherwise).
    """

    def __init__(self, name: str, split: str, src_lang: str, tgt_lang: str,
                 data_dir: str | None = None, on_bad_line: str = "error"):
        super().__init__(on_bad_line)
        self.name, self.split, self.data_dir = name, split, data_dir
        self.langs = (src_lang, tgt_lang)
        self.description = f"tfds:{name}:{split}"

    def _records(self):
        try:
            import tensorflow_datasets as tfds
        except ImportError as err:
            raise CorpusError("Reading TFDS corpora needs tensorflow-datasets: "
                              'pip install -e ".[tfds]".') from err
        ds = tfds.load(self.name, split=self.split, data_dir=self.data_dir)
        missing = [lang for lang in self.langs if lang not in ds.element_spec]
        if missing:
            raise CorpusError(f"{self.description} has features {sorted(ds.element_spec)}; "
                              f"received languages {missing}. Set data.src_lang/data.tgt_lang.")
        for number, example in enumerate(tfds.as_numpy(ds), start=1):
            sides = []
            for lang in self.langs:
                try:
                    sides.append(example[lang].decode("utf-8"))
                except UnicodeDecodeError:
                    if self.on_bad_line == "error":
                        raise CorpusError(f"{self.description}, example {number}: invalid UTF-8 "
                                          f"in '{lang}'. Pass --on-bad-line skip.") from None
                    sides.append(None)
            yield number, sides[0], sides[1]


class PairListCorpus(Corpus):
    """Sentence pairs already in memory (e.g. the built-in generated task)."""

    def __init__(self, pairs: Sequence[Pair], description: str = "in-memory pairs"):
        super().__init__("error")
        self._pairs, self.description = list(pairs), description

    def _records(self):
        for number, (src, tgt) in enumerate(self._pairs, start=1):
            yield number, src, tgt


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[Pair]:
    """Reads two line-aligned files into a list of every pair (e.g. a test set and references).

    Raises:
        CorpusError: missing file, invalid UTF-8 or different line counts.
    """
    return [(src, tgt) for _, src, tgt in TextPairCorpus(src_path, tgt_path)._records()]


def open_corpus(data, part: str) -> Corpus | None:
    """The corpus a `DataConfig` names for `part` ("train" or "valid"), or None if none.

    Exactly one form may be given: `{part}_src` + `{part}_tgt`, `{part}_tsv` or `{part}_tfds`.
    """
    src, tgt = getattr(data, f"{part}_src"), getattr(data, f"{part}_tgt")
    tsv, tfds_spec = getattr(data, f"{part}_tsv"), getattr(data, f"{part}_tfds")
    forms = [name for name, given in ((f"{part}_src/{part}_tgt", src or tgt),
                                      (f"{part}_tsv", tsv), (f"{part}_tfds", tfds_spec)) if given]
    if len(forms) > 1:
        raise CorpusError(f"Give the {part} corpus in one form only; received: {forms}.")
    if src or tgt:
        if not (src and tgt):
            raise CorpusError(f"data.{part}_src and data.{part}_tgt go together (--src/--tgt); "
                              f"received only {'source' if src else 'target'}.")
        return TextPairCorpus(src, tgt, data.on_bad_line)
    if tsv:
        return TsvCorpus(tsv, data.tsv_src_column, data.tsv_tgt_column, data.on_bad_line)
    if tfds_spec:
        name, _, split = tfds_spec.partition(":")
        split = split or ("train" if part == "train" else "validation")
        return TfdsCorpus(name, split, data.src_lang, data.tgt_lang, on_bad_line=data.on_bad_line)
    return None
