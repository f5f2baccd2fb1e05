"""SavedModel export in TF Serving's `BASE/NAME/VERSION/` layout, written atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_s2s.constants import (SERVING_DEFAULT, SIG_SCORE, SIG_TRANSLATE, SIG_TRANSLATE_GREEDY,
                                 SIG_TRANSLATE_NBEST)


def next_version(model_base: str | Path) -> int:
    """One more than the highest numeric version folder in `model_base` (1 if none)."""
    model_base = Path(model_base)
    versions = [int(p.name) for p in model_base.iterdir()
                if p.is_dir() and p.name.isdigit()] if model_base.is_dir() else []
    return max(versions, default=0) + 1


def export_saved_model(translator: tf.Module, base: str | Path, name: str,
                       version: int | None = None) -> Path:
    """Writes `translator` to `base/name/version/` so a server never sees half a version.

    The SavedModel is written into a temporary folder beside the target, then renamed.

    Args:
        translator: a `keras_s2s.decode.translator.Translator`.
        base: the model base path TF Serving watches.
        name: the model name (a folder under `base`).
        version: the version number; the next free one by default.

    Returns:
        The version folder.
    """
    model_base = Path(base) / name
    model_base.mkdir(parents=True, exist_ok=True)
    version = next_version(model_base) if version is None else version
    if version <= 0:
        raise ValueError(f"Export versions are positive integers; received: version={version}.")
    target = model_base / str(version)
    if target.exists():
        raise FileExistsError(f"Export version {target} exists already; pass another "
                              "--version or leave it out to take the next free one.")
    signatures = {SERVING_DEFAULT: translator.translate, SIG_TRANSLATE: translator.translate,
                  SIG_TRANSLATE_NBEST: translator.translate_nbest, SIG_SCORE: translator.score,
                  SIG_TRANSLATE_GREEDY: translator.translate_greedy}
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=model_base))
    try:
        tf.saved_model.save(translator, str(tmp), signatures=signatures)
        os.rename(tmp, target)  # atomic on one file system
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_saved_model(path: str | Path):
    """Loads an exported SavedModel (a version folder, or a model base: highest version).

    Imports `tensorflow_text` first so its ops are registered, as TF Serving links them.
    """
    import tensorflow_text  # noqa: F401  (registers TF-Text ops before loading)

    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        version = next_version(path) - 1
        if version == 0:
            raise FileNotFoundError(
                f"No SavedModel at {path}: expected saved_model.pb or numbered version folders.")
        path = path / str(version)
    return tf.saved_model.load(str(path))
