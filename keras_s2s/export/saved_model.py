"""SavedModel export in TF Serving's `BASE/NAME/VERSION/` layout, written atomically."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_s2s.constants import INPUT_TEXT, SERVING_DEFAULT, SIG_TRANSLATE_GREEDY


def next_version(model_base: str | Path) -> int:
    """One more than the highest numeric version folder in `model_base` (1 if none)."""
    model_base = Path(model_base)
    versions = [int(p.name) for p in model_base.iterdir()
                if p.is_dir() and p.name.isdigit()] if model_base.is_dir() else []
    return max(versions, default=0) + 1


def write_warmup(version_dir: Path, name: str, texts: list[str]) -> None:
    """`assets.extra/tf_serving_warmup_requests`: real requests TF Serving replays on load,
    so the first user request does not pay for graph warm-up."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    folder = version_dir / "assets.extra"
    folder.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(folder / "tf_serving_warmup_requests")) as writer:
        for signature in (SERVING_DEFAULT, SIG_TRANSLATE_GREEDY):
            request = predict_pb2.PredictRequest()
            request.model_spec.name = name
            request.model_spec.signature_name = signature
            request.inputs[INPUT_TEXT].CopyFrom(tf.make_tensor_proto(texts))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def served_names(models_config: str | Path) -> list[str]:
    """The model names a TF Serving `models.config` lists, in order (none if it is missing)."""
    path = Path(models_config)
    if not path.is_file():
        return []
    return re.findall(r'^\s*name:\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)


def write_server_configs(base: str | Path, name: str, max_batch_size: int = 64) -> None:
    """`models.config` and `batching_parameters.txt` for `tensorflow_model_server`.

    The models already listed in `models.config` stay in it: exporting a second model into
    the same base adds an entry and drops none.
    """
    base = Path(base)
    names = served_names(base / "models.config")
    names += [] if name in names else [name]
    entries = "".join(f'  config {{\n    name: "{n}"\n    base_path: "/models/{n}"\n'
                      '    model_platform: "tensorflow"\n  }\n' for n in names)
    (base / "models.config").write_text(f"model_config_list {{\n{entries}}}\n",
                                        encoding="utf-8")
    (base / "batching_parameters.txt").write_text(
        f"max_batch_size {{ value: {max_batch_size} }}\n"
        "batch_timeout_micros { value: 5000 }\n"
        "max_enqueued_batches { value: 100 }\n"
        "num_batch_threads { value: 2 }\n", encoding="utf-8")


WARMUP_TEXTS = ["A man is riding a bicycle.", "12", ""]


def export_saved_model(translator: tf.Module, base: str | Path, name: str,
                       version: int | None = None, warmup_texts: list[str] | None = None) -> Path:
    """Writes `translator` to `base/name/version/` so a server never sees half a version.

    The SavedModel is written into a temporary folder beside the target, then renamed.

    Args:
        translator: a `keras_s2s.decode.translator.Translator`.
        base: the model base path TF Serving watches.
        name: the model name (a folder under `base`).
        version: the version number; the next free one by default.
        warmup_texts: sentences for the TF Serving warm-up requests.

    Returns:
        The version folder.
    """
    warmup_texts = WARMUP_TEXTS if warmup_texts is None else warmup_texts
    model_base = Path(base) / name
    model_base.mkdir(parents=True, exist_ok=True)
    version = next_version(model_base) if version is None else version
    if version <= 0:
        raise ValueError(f"Export versions are positive integers; received: version={version}.")
    target = model_base / str(version)
    if target.exists():
        raise FileExistsError(f"Export version {target} exists already; pass another "
                              "--version or leave it out to take the next free one.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=model_base))
    try:
        tf.saved_model.save(translator, str(tmp), signatures=translator.signatures())
        write_warmup(tmp, name, warmup_texts)
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
