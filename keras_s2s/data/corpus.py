"""Plain-text corpus reading (`.gz` accepted) with errors that name the file and line."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator


class CorpusError(ValueError):
    """A corpus file that cannot be used as it is; the message names the file and the fix."""


def iter_lines(path: str | Path) -> Iterator[str]:
    """Yields the lines of a UTF-8 text file without their line ending.

    Raises:
        CorpusError: the file is missing or a line is not valid UTF-8 (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"Corpus file not found: {path}.")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise CorpusError(
                    f"{path}, line {number}: invalid UTF-8 ({err.reason} at byte {err.start}). "
                    "Re-encode the file as UTF-8 (e.g. with iconv).") from None


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[tuple[str, str]]:
    """Reads two line-aligned files into `(source, target)` pairs.

    Raises:
        CorpusError: the files have different line counts (both files and counts named).
    """
    sources, targets = list(iter_lines(src_path)), list(iter_lines(tgt_path))
    if len(sources) != len(targets):
        raise CorpusError(
            f"Source and target files must have one line per sentence pair, but {src_path} has "
            f"{len(sources)} lines and {tgt_path} has {len(targets)}.")
    return list(zip(sources, targets))
