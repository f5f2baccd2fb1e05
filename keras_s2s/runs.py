"""What a run directory is: its config, vocabularies and weights, and the Translator (or the
TFLite decoder) built from one run or an ensemble of runs. Training fills one (`training`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import keras

from keras_s2s import config as config_lib
from keras_s2s.config import Config, DecodeConfig, Precision
from keras_s2s.constants import CONFIG_FILE, DATA_REPORT_FILE, WEIGHTS_FILE
from keras_s2s.data.corpus import Corpus
from keras_s2s.data.pipeline import dataset_from_corpus
from keras_s2s.data.tokenizer import Tokenizer
from keras_s2s.data.vocab import SIDES, build_side, load_tokenizer
from keras_s2s.decode.ensemble import ensemble
from keras_s2s.decode.step import unbound
from keras_s2s.decode.translator import Translator
from keras_s2s.export.tflite import TFLiteDecoder
from keras_s2s.model.inference import make_cell_encode, make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train.callbacks import CHECKPOINT_DIR
from keras_s2s.train.distribute import precision_scope


def has_started(model_dir: str | Path) -> bool:
    """Whether a run directory holds weights or a step checkpoint (training really ran)."""
    model_dir = Path(model_dir)
    return (model_dir / WEIGHTS_FILE).is_file() or (model_dir / CHECKPOINT_DIR).is_dir()


def _comparable(values: dict) -> dict:
    """A config dict without what may change between reruns: `train.epochs`,
    `train.precision`, `train.cpu_replicas`, and what training never reads (`decode`,
    `data.test_*`)."""
    # A rerun may train further, in another precision, with another host's cores.
    for key in ("epochs", "precision", "cpu_replicas"):
        values.get("train", {}).pop(key, None)
    values.pop("decode", None)
    for key in ("test_src", "test_tgt"):
        values.get("data", {}).pop(key, None)
    return values


def check_config(cfg: Config, model_dir: str | Path) -> None:
    """Refuses to train a started run with another config; a run that never started (no
    weights, no checkpoint) is replaced: its stale config, vocabularies and report go.

    Only `train.epochs` may change between reruns, so a finished run can be trained further,
    besides settings training never reads; keys added to the config since the run was saved
    compare at their defaults.
    """
    model_dir = Path(model_dir)
    if model_dir.exists() and not model_dir.is_dir():
        raise ValueError(f"--model-dir {model_dir} is a file; pass a directory (it is "
                         "created if missing).")
    path = model_dir / CONFIG_FILE
    if not path.exists():
        return
    saved = config_lib.from_dict(config_lib.load_yaml(path)).to_dict()
    if _comparable(saved) == _comparable(cfg.to_dict()):
        return
    if has_started(model_dir):
        raise ValueError(
            f"{model_dir} holds a run with another config ({path}). Rerun with the same "
            "settings to resume it (only --epochs may change), or pass a new --model-dir.")
    stale = [path, model_dir / DATA_REPORT_FILE, *model_dir.glob("*.vocab"),
             *model_dir.glob("*.spm.model")]
    for file in stale:
        file.unlink(missing_ok=True)


def write_config(cfg: Config, model_dir: str | Path) -> None:
    """Saves the resolved config (the run's identity) after `check_config`."""
    check_config(cfg, model_dir)
    config_lib.save(cfg, Path(model_dir) / CONFIG_FILE)


def build_vocabularies(cfg: Config, corpus: Corpus, model_dir: str | Path) -> None:
    """Builds both sides' vocabularies (or SentencePiece models) from a training corpus."""
    pairs = dataset_from_corpus(corpus)
    sides = ((0, cfg.data.src_tokenizer, cfg.data.src_vocab_size),
             (1, cfg.data.tgt_tokenizer, cfg.data.tgt_vocab_size))
    for side, (index, mode, size) in zip(SIDES, sides):
        texts = pairs.map(lambda *pair, i=index: pair[i])
        build_side(texts, mode, size, model_dir, side)


def load_tokenizers(cfg: Config, model_dir: str | Path) -> tuple[Tokenizer, Tokenizer]:
    return (load_tokenizer(model_dir, "src", cfg.data.src_tokenizer),
            load_tokenizer(model_dir, "tgt", cfg.data.tgt_tokenizer))


def load_config(model_dir: str | Path) -> Config:
    """The resolved config saved in a run directory."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a run directory: {CONFIG_FILE} is missing. "
                                "Train into it first with `keras-s2s train --model-dir DIR`.")
    return config_lib.from_dict(config_lib.load_yaml(path))


def build_model(model_dir: str | Path) -> keras.Model:
    """A run's model as its config builds it (fresh weights), with its vocabulary sizes."""
    return _build(model_dir)[1]


def _build(model_dir: str | Path) -> tuple[Config, keras.Model, Tokenizer, Tokenizer]:
    cfg = load_config(model_dir)
    src_tok, tgt_tok = load_tokenizers(cfg, model_dir)
    return cfg, build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size), src_tok, tgt_tok


def save_run_copy(model_dir: str | Path, out: str | Path, model: keras.Model) -> None:
    """A new run directory `out`: `model_dir`'s config, data report and vocabularies, and
    `model`'s weights as its final weights.

    Raises:
        FileExistsError: `out` holds a run already (it is never overwritten).
    """
    out = Path(out)
    if (out / CONFIG_FILE).exists():
        raise FileExistsError(f"{out} holds a run already; pass a new --out directory.")
    out.mkdir(parents=True, exist_ok=True)
    names = [CONFIG_FILE, DATA_REPORT_FILE, *(f"{side}.{kind}" for side in SIDES
                                              for kind in ("vocab", "spm.model"))]
    for name in names:
        if (Path(model_dir) / name).is_file():
            shutil.copyfile(Path(model_dir) / name, out / name)
    model.save_weights(str(out / WEIGHTS_FILE))


def load_model(model_dir: str | Path, precision: Precision = "fp32"
               ) -> tuple[Config, keras.Model, Tokenizer, Tokenizer]:
    """Rebuilds a trained run's model with its final weights.

    Args:
        model_dir: the run.
        precision: the model's arithmetic (its layers' dtype policy; the weights stay fp32).

    Returns:
        `(config, model, src_tokenizer, tgt_tokenizer)`.
    """
    model_dir = Path(model_dir)
    with precision_scope(precision):
        cfg, model, src_tok, tgt_tok = _build(model_dir)
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the run in {model_dir} has not "
                                "finished training. Rerun the same `keras-s2s train` to resume.")
    model.load_weights(str(weights))
    return cfg, model, src_tok, tgt_tok


def _check_compatible(model_dirs: Sequence[str | Path]) -> None:
    """Ensemble members must read and write the same tokens: same vocabularies and tokenizers."""
    reference = Path(model_dirs[0])
    ref_cfg = load_config(reference)
    for other in map(Path, model_dirs[1:]):
        cfg = load_config(other)
        same_setup = (cfg.data.src_tokenizer, cfg.data.tgt_tokenizer, cfg.data.reverse_source) \
            == (ref_cfg.data.src_tokenizer, ref_cfg.data.tgt_tokenizer,
                ref_cfg.data.reverse_source)
        same_files = all(
            (reference / name).read_bytes() == (other / name).read_bytes()
            for name in sorted(p.name for p in reference.glob("*.vocab")) +
            sorted(p.name for p in reference.glob("*.spm.model")))
        if not (same_setup and same_files):
            raise ValueError(
                f"Models in an ensemble must share vocabularies and tokenizers, but {other} "
                f"differs from {reference}. Train the members with the same vocabulary files "
                "(copy src.vocab/tgt.vocab into each run dir before training).")


def load_translator(model_dirs: str | Path | Sequence[str | Path],
                    decode: DecodeConfig | None = None) -> Translator:
    """The in-graph Translator of one trained run, or of an ensemble of runs.

    Args:
        model_dirs: one run directory, or several (their log-probabilities are averaged).
        decode: search settings; the first run's `decode` section by default.
    """
    decode = decode or load_config(_run_dirs(model_dirs)[0]).decode
    first, models, src_tok, tgt_tok = _load_members(model_dirs, decode.precision)
    encode, step = ensemble([(make_encode(model), make_step(model)) for model in models])
    return Translator(src_tok, tgt_tok, encode, step, first.data.reverse_source, decode,
                      trackables=tuple(models))


def _run_dirs(model_dirs: str | Path | Sequence[str | Path]) -> list[str | Path]:
    """One run directory or several, as a list."""
    return [model_dirs] if isinstance(model_dirs, (str, Path)) else list(model_dirs)


def _load_members(model_dirs: str | Path | Sequence[str | Path], precision: Precision = "fp32"
                  ) -> tuple[Config, list[keras.Model], Tokenizer, Tokenizer]:
    """One run or an ensemble's runs (checked compatible): the first run's config, the
    models (computing in `precision`), and the tokenizers they share."""
    dirs = _run_dirs(model_dirs)
    _check_compatible(dirs)
    loaded = [load_model(model_dir, precision) for model_dir in dirs]
    first, _, src_tok, tgt_tok = loaded[0]
    return first, [model for _, model, _, _ in loaded], src_tok, tgt_tok


def check_tflite_precision(precision: str | None) -> None:
    """A TFLite file computes in fp32 (int8 weights when quantized): `auto` means that
    there, and any other precision is refused."""
    if precision not in (None, "fp32", "auto"):
        raise ValueError(f"The TFLite file computes in fp32 (int8 weights with --quantize); "
                         f"received precision {precision!r}. Pass --precision fp32.")


def load_tflite_decoder(model_dirs: str | Path | Sequence[str | Path], max_src_len: int = 50,
                        beam_size: int | None = None, batch: int = 1,
                        decode: DecodeConfig | None = None) -> TFLiteDecoder:
    """The builtins-only TFLite decoder of one run or an ensemble (`export.tflite` writes it).

    Args:
        model_dirs: run directories; several are averaged as an ensemble.
        max_src_len: the fixed source width S (longer sentences must be cut by the caller).
        beam_size: the `beam` signature's fixed beam (default: the run's decode.beam_size).
        batch: sentences per call (fixed).
        decode: length limits and penalty, fixed at export (default: the run's own).
    """
    if max_src_len < 1 or batch < 1 or (beam_size is not None and beam_size < 1):
        raise ValueError(f"max_src_len, batch and beam_size must be >= 1; received: "
                         f"{max_src_len}, {batch}, {beam_size}.")
    cfg, models, _, _ = _load_members(model_dirs)
    encode, step = ensemble([(make_cell_encode(m), unbound(make_step(m))) for m in models])
    decode = decode or cfg.decode
    check_tflite_precision(decode.precision)
    if decode.coverage_penalty:
        raise ValueError("The TFLite beam search has no coverage penalty: export with "
                         "--coverage-penalty 0 (or set decode.coverage_penalty: 0).")
    return TFLiteDecoder(encode, step, cfg.data.reverse_source, decode, max_src_len,
                         beam_size or cfg.decode.beam_size, batch, trackables=tuple(models),
                         vocab_dir=_run_dirs(model_dirs)[0],
                         tokenizers={"src": cfg.data.src_tokenizer,
                                     "tgt": cfg.data.tgt_tokenizer})
