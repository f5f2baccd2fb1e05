"""Run directories: train into one, load its model and Translator back (model → decode wiring)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf

from keras_s2s import config as config_lib
from keras_s2s.config import Config, DecodeConfig
from keras_s2s.constants import CONFIG_FILE, DATA_REPORT_FILE, WEIGHTS_FILE
from keras_s2s.data.corpus import Corpus, PairListCorpus, open_corpus
from keras_s2s.data.pipeline import count_too_long, dataset_from_corpus, make_dataset, padding_stats
from keras_s2s.data.tasks import TaskSplits, load_task
from keras_s2s.data.tokenizer import Tokenizer
from keras_s2s.data.vocab import SIDES, build_side, load_tokenizer, vocab_exists
from keras_s2s.decode.scoring import ensemble
from keras_s2s.decode.translator import Translator
from keras_s2s.model.inference import make_cell_encode, make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train import trainer
from keras_s2s.train.distribute import make_strategy, precision_scope


def builtin_splits(cfg: Config) -> TaskSplits:
    """The built-in task's train/valid/test pairs for this config."""
    return load_task(cfg.data.task, cfg.data.task_seed, cfg.data.task_size)


def corpora(cfg: Config) -> tuple[Corpus, Corpus | None]:
    """The training and validation corpora the config names, else the built-in task's."""
    train_corpus = open_corpus(cfg.data, "train")
    if train_corpus is None:
        splits = builtin_splits(cfg)
        return (PairListCorpus(splits.train, f"{cfg.data.task} train"),
                PairListCorpus(splits.valid, f"{cfg.data.task} valid"))
    return train_corpus, open_corpus(cfg.data, "valid")


def write_config(cfg: Config, model_dir: Path) -> None:
    """Saves the resolved config; a run dir holding a different one is an error.

    Only `train.epochs` may change between reruns, so a finished run can be trained further,
    besides settings training never reads (`decode`, `data.test_*`); keys added to the config
    since the run was saved compare at their defaults.
    """
    path = model_dir / CONFIG_FILE
    if path.exists():
        saved = config_lib.from_dict(config_lib.load_yaml(path)).to_dict()
        current = cfg.to_dict()
        for values in (saved, current):
            values.get("train", {}).pop("epochs", None)
            values.pop("decode", None)
            for key in ("test_src", "test_tgt"):
                values.get("data", {}).pop(key, None)
        if saved != current:
            raise ValueError(
                f"{model_dir} holds a run with another config ({path}). Rerun with the same "
                "settings to resume it (only --epochs may change), or pass a new --model-dir.")
    config_lib.save(cfg, path)


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


def _read_training_corpus(cfg: Config, model_dir: Path, corpus: Corpus, cache: bool = False):
    """Validates and counts the corpus, builds missing vocabularies, counts over-long pairs.

    Returns:
        `(counts, src_tokenizer, tgt_tokenizer, pairs)`: counts of pairs, skipped, empty and
        too-long pairs, and the pairs as a string dataset (cached in memory if `cache`).
    """
    counts = corpus.scan().as_dict()  # raises CorpusError before any TF work
    if not vocab_exists(model_dir, (cfg.data.src_tokenizer, cfg.data.tgt_tokenizer)):
        build_vocabularies(cfg, corpus, model_dir)
    src_tok, tgt_tok = load_tokenizers(cfg, model_dir)
    pairs = dataset_from_corpus(corpus)
    if cache:
        pairs = pairs.cache()
    counts["too_long"] = count_too_long(pairs, src_tok, tgt_tok, cfg.data)
    return counts, src_tok, tgt_tok, pairs


def prepare_data(cfg: Config, model_dir: Path, train_corpus: Corpus,
                 valid_corpus: Corpus | None):
    """Validates the corpora (errors before training) and builds missing vocabularies.

    Returns:
        `(train_pairs, src_tokenizer, tgt_tokenizer)`; the report counting pairs, skipped bad
        lines, empty and over-long pairs is printed and written to `data_report.json`.
    """
    counts, src_tok, tgt_tok, train_pairs = _read_training_corpus(cfg, model_dir, train_corpus)
    report = {"train": counts}
    if valid_corpus is not None:
        report["valid"] = valid_corpus.scan().as_dict()
    (model_dir / DATA_REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"data: {train_corpus.description}: {json.dumps(report)}", file=sys.stderr)
    return train_pairs, src_tok, tgt_tok


def data_stats(cfg: Config, model_dir: str | Path) -> dict:
    """Reads the training corpus and measures its batches, bucketed and not.

    Vocabularies already in `model_dir` are used, else built there.

    Returns:
        `{"pairs", "skipped", "empty", "too_long", "batches", "padding_fraction",
        "padding_fraction_unbucketed", "tokens_per_s", ...}` (tokens: source + target, `</s>`
        included, no padding).
    """
    train_corpus, _ = corpora(cfg)
    # Cached: the corpus is read once, so the timing below is the pipeline's alone.
    figures, src_tok, tgt_tok, pairs = _read_training_corpus(cfg, Path(model_dir), train_corpus,
                                                             cache=True)
    batches = dict(src_tok=src_tok, tgt_tok=tgt_tok, data=cfg.data,
                   batch_size=cfg.train.batch_size, shuffle=True, seed=cfg.seed)
    start = time.perf_counter()
    bucketed = padding_stats(make_dataset(pairs, **batches))
    seconds = time.perf_counter() - start
    plain = padding_stats(make_dataset(pairs, bucketed=False, **batches))
    tokens = bucketed["src_tokens"] + bucketed["tgt_tokens"]
    return {**figures, **bucketed, "padding_fraction_unbucketed": plain["padding_fraction"],
            "batches_unbucketed": plain["batches"], "batch_size": cfg.train.batch_size,
            "tokens_per_s": round(tokens / seconds), "sentences_per_s":
                round(bucketed["sentences"] / seconds)}


def train(cfg: Config, model_dir: str | Path, train_corpus: Corpus | None = None,
          valid_corpus: Corpus | None = None, verbose: int | str = "auto") -> dict:
    """Trains into `model_dir` (config, vocabularies, data report, checkpoints, weights, logs).

    Rerunning the same command after the process was killed resumes from the last step
    checkpoint. The model is built and compiled inside the `train.strategy` scope.

    Args:
        cfg: the resolved config.
        model_dir: the run directory.
        train_corpus, valid_corpus: default to `corpora(cfg)`.
        verbose: Keras verbosity.

    Returns:
        The Keras history dict of this call.
    """
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = make_strategy(cfg.train.strategy)
    model_dir = Path(model_dir)
    if train_corpus is None:
        train_corpus, valid_corpus = corpora(cfg)
    model_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)  # Python, NumPy and TF
    write_config(cfg, model_dir)
    train_pairs, src_tok, tgt_tok = prepare_data(cfg, model_dir, train_corpus, valid_corpus)
    batches = dict(src_tok=src_tok, tgt_tok=tgt_tok, data=cfg.data,
                   batch_size=cfg.train.batch_size)

    def epoch_data(epoch: int) -> tf.data.Dataset:  # a fixed order per epoch: resumable
        return make_dataset(train_pairs, shuffle=True, seed=cfg.seed * 1000 + epoch, **batches)

    valid_ds = (make_dataset(dataset_from_corpus(valid_corpus), **batches)
                if valid_corpus is not None else None)
    steps_per_epoch = None
    if cfg.train.schedule != "constant" or cfg.train.epochs % 1:
        steps_per_epoch = sum(1 for _ in epoch_data(0))
    with strategy.scope(), precision_scope(cfg.train.precision):  # build *and* compile here
        model = build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size)
        trainer.compile_model(model, cfg.train, steps_per_epoch)
    return trainer.fit(model, epoch_data, valid_ds, cfg.train, model_dir, steps_per_epoch,
                       verbose=verbose)


def load_config(model_dir: str | Path) -> Config:
    """The resolved config saved in a run directory."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a run directory: {CONFIG_FILE} is missing. "
                                "Train into it first with `keras-s2s train --model-dir DIR`.")
    return config_lib.from_dict(config_lib.load_yaml(path))


def load_model(model_dir: str | Path) -> tuple[Config, keras.Model, Tokenizer, Tokenizer]:
    """Rebuilds a trained run's model with its final weights.

    Returns:
        `(config, model, src_tokenizer, tgt_tokenizer)`.
    """
    model_dir = Path(model_dir)
    cfg = load_config(model_dir)
    src_tok, tgt_tok = load_tokenizers(cfg, model_dir)
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the run in {model_dir} has not "
                                "finished training. Rerun the same `keras-s2s train` to resume.")
    model = build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size)
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
    first, models, src_tok, tgt_tok = _load_members(model_dirs)
    encode, step = ensemble([(make_encode(model), make_step(model)) for model in models])
    return Translator(src_tok, tgt_tok, encode, step, first.data.reverse_source,
                      decode or first.decode, trackables=tuple(models))


def _run_dirs(model_dirs: str | Path | Sequence[str | Path]) -> list[str | Path]:
    """One run directory or several, as a list."""
    return [model_dirs] if isinstance(model_dirs, (str, Path)) else list(model_dirs)


def _load_members(model_dirs: str | Path | Sequence[str | Path]
                  ) -> tuple[Config, list[keras.Model], Tokenizer, Tokenizer]:
    """One run or an ensemble's runs (checked compatible): the first run's config, the
    models, and the tokenizers they share."""
    dirs = _run_dirs(model_dirs)
    _check_compatible(dirs)
    loaded = [load_model(model_dir) for model_dir in dirs]
    first, _, src_tok, tgt_tok = loaded[0]
    return first, [model for _, model, _, _ in loaded], src_tok, tgt_tok


def export_tflite(model_dirs: str | Path | Sequence[str | Path], out: str | Path,
                  beam_size: int | None = None, max_src_len: int = 50, quantize: str = "none",
                  batch: int = 1) -> dict:
    """Converts a run (or an ensemble of runs) to one builtins-only `.tflite` file.

    Writes `out`, the vocabulary files and `out` with `.json` (lengths, reserved ids,
    tokenizers) beside it.

    Args:
        model_dirs: run directories; several are averaged as an ensemble.
        out: the `.tflite` path.
        beam_size: the `beam` signature's fixed beam (default: the run's decode.beam_size).
        max_src_len: the fixed source width S (longer sentences must be cut by the caller).
        quantize: "none", "dynamic" (int8 weights) or "float16".
        batch: sentences per call (fixed).

    Returns:
        `{"tflite": path, "bytes": size, "max_src_len", "max_tgt_len", "beam_size"}`.
    """
    from keras_s2s.export.tflite import TFLiteDecoder, convert, write_bundle

    if max_src_len < 1 or batch < 1 or (beam_size is not None and beam_size < 1):
        raise ValueError(f"max_src_len, batch and beam_size must be >= 1; received: "
                         f"{max_src_len}, {batch}, {beam_size}.")
    cfg, models, _, _ = _load_members(model_dirs)
    encode, step = ensemble([(make_cell_encode(m), make_step(m)) for m in models])
    decoder = TFLiteDecoder(encode, step, cfg.data.reverse_source, cfg.decode, max_src_len,
                            beam_size or cfg.decode.beam_size, batch, trackables=tuple(models))
    flatbuffer = convert(decoder, quantize)
    tokenizers = {"src": cfg.data.src_tokenizer, "tgt": cfg.data.tgt_tokenizer}
    meta = write_bundle(out, flatbuffer, decoder, _run_dirs(model_dirs)[0], tokenizers, quantize)
    return {"tflite": str(out), "metadata": str(meta), "bytes": len(flatbuffer),
            "max_src_len": max_src_len, "max_tgt_len": decoder.max_tgt_len,
            "beam_size": decoder.beam_size, "quantization": quantize}
