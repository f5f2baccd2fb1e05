"""A teacher's translations of a whole corpus side, written shard by shard: a killed run,
rerun, translates only the shards that are missing, and the joined file is line-aligned
with the source."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Callable, Sequence

MANIFEST = "manifest.json"
SHARD = "shard_{:05d}.txt"

Translate = Callable[[int, list[str]], list[str]]  # (index of the chunk's first line, chunk)


def _fingerprint(lines: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _check_manifest(directory: Path, identity: dict) -> None:
    """Writes the manifest of a new shard folder, or checks that a rerun is the same job.

    Raises:
        ValueError: the folder holds shards of another source, teacher or shard size.
    """
    path = directory / MANIFEST
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(k for k in identity if saved.get(k) != identity[k])
        if changed:
            raise ValueError(f"{directory} holds shards of another job ({', '.join(changed)} "
                             f"differ); delete the folder to translate again.")
        return
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(identity, indent=2), encoding="utf-8")


def _write_atomically(path: Path, lines: Sequence[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    tmp.replace(path)


def translate_in_shards(translate: Translate, lines: Sequence[str], directory: str | Path,
                        shard_lines: int, identity: dict, log: Callable[[str], None] = print
                        ) -> list[Path]:
    """Translates `lines` in shards of `shard_lines`, each written once, atomically.

    Args:
        translate: `(first, chunk)` → the chunk's translations, in order (one per line);
            `first` is the index of the chunk's first line in `lines`.
        lines: the source side, one sentence each (empty lines translate to "").
        directory: where the shards and their manifest go.
        shard_lines: source lines per shard.
        identity: what makes this job itself (e.g. the teachers and their beam); with the
            source's fingerprint and the shard size it guards a rerun against stale shards.
        log: progress messages (`shard i/n`).

    Returns:
        The shard files in order.
    """
    directory = Path(directory)
    _check_manifest(directory, {**identity, "lines": len(lines), "shard_lines": shard_lines,
                                "source_sha256": _fingerprint(lines)})
    total = math.ceil(len(lines) / shard_lines)
    shards = []
    for index in range(total):
        path = directory / SHARD.format(index)
        chunk = list(lines[index * shard_lines:(index + 1) * shard_lines])
        if not path.is_file():
            outputs = translate(index * shard_lines, chunk)
            if len(outputs) != len(chunk):
                raise RuntimeError(f"shard {index}: {len(outputs)} translations for "
                                   f"{len(chunk)} lines")
            _write_atomically(path, [" ".join(text.split()) for text in outputs])
            log(f"distill: shard {index + 1}/{total} translated ({len(chunk)} lines)")
        shards.append(path)
    return shards


def join_shards(shards: Sequence[Path], out: str | Path) -> int:
    """Concatenates the shards into `out` (atomically) and returns its number of lines."""
    lines = [line for shard in shards
             for line in shard.read_text(encoding="utf-8").splitlines()]
    _write_atomically(Path(out), lines)
    return len(lines)
