"""Run directories: train into one, and load its model and Translator back (wires model → decode)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import yaml

from keras_s2s import config as config_lib
from keras_s2s.config import Config
from keras_s2s.constants import CONFIG_FILE, SRC_VOCAB_FILE, TGT_VOCAB_FILE, WEIGHTS_FILE
from keras_s2s.data.pipeline import make_dataset
from keras_s2s.data.tasks import TaskSplits, load_task
from keras_s2s.data.tokenizer import Tokenizer
from keras_s2s.data.vocab import build_vocab, load_vocab, save_vocab
from keras_s2s.decode.translator import Translator
from keras_s2s.model.inference import make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train import trainer

Pairs = Sequence[tuple[str, str]]


def builtin_splits(cfg: Config) -> TaskSplits:
    """The built-in task's train/valid/test pairs for this config."""
    return load_task(cfg.data.task, cfg.data.task_seed, cfg.data.task_size)


def _write_config(cfg: Config, model_dir: Path) -> None:
    """Saves the resolved config; a run dir holding a different one is an error."""
    path = model_dir / CONFIG_FILE
    if path.exists():
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
        if saved != cfg.to_dict():
            raise ValueError(
                f"{model_dir} holds a run with another config ({path}). Rerun with the same "
                "settings to resume it, or pass a new --model-dir.")
    config_lib.save(cfg, path)


def _vocabularies(cfg: Config, pairs: Pairs, model_dir: Path) -> tuple[list[str], list[str]]:
    """Builds the vocabularies from the training pairs, or loads them when resuming."""
    src_path, tgt_path = model_dir / SRC_VOCAB_FILE, model_dir / TGT_VOCAB_FILE
    if src_path.exists() and tgt_path.exists():
        return load_vocab(src_path), load_vocab(tgt_path)
    src_vocab = build_vocab((s for s, _ in pairs), cfg.data.src_tokenizer, cfg.data.src_vocab_size)
    tgt_vocab = build_vocab((t for _, t in pairs), cfg.data.tgt_tokenizer, cfg.data.tgt_vocab_size)
    save_vocab(src_vocab, src_path)
    save_vocab(tgt_vocab, tgt_path)
    return src_vocab, tgt_vocab


def train(cfg: Config, model_dir: str | Path, train_pairs: Pairs, valid_pairs: Pairs | None,
          verbose: int | str = "auto") -> dict:
    """Trains a model on string pairs into `model_dir` (config, vocabularies, weights, logs).

    Returns:
        The Keras history dict.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)  # Python, NumPy and TF
    _write_config(cfg, model_dir)
    src_vocab, tgt_vocab = _vocabularies(cfg, train_pairs, model_dir)
    src_tok = Tokenizer(src_vocab, cfg.data.src_tokenizer)
    tgt_tok = Tokenizer(tgt_vocab, cfg.data.tgt_tokenizer)
    data = cfg.data
    batches = dict(src_tok=src_tok, tgt_tok=tgt_tok, batch_size=cfg.train.batch_size,
                   max_src_len=data.max_src_len, max_tgt_len=data.max_tgt_len,
                   reverse=data.reverse_source)
    train_ds = make_dataset(train_pairs, shuffle_buffer=data.shuffle_buffer, seed=cfg.seed,
                            **batches)
    valid_ds = make_dataset(valid_pairs, **batches) if valid_pairs else None
    model = build_seq2seq(cfg.model, len(src_vocab), len(tgt_vocab))
    trainer.compile_model(model, cfg.train)
    return trainer.fit(model, train_ds, valid_ds, cfg.train, model_dir, verbose=verbose)


def load_config(model_dir: str | Path) -> Config:
    """The resolved config saved in a run directory."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a run directory: {CONFIG_FILE} is missing. "
                                "Train into it first with `keras-s2s train --model-dir DIR`.")
    return config_lib.from_dict(config_lib.load_yaml(path))


def load_model(model_dir: str | Path) -> tuple[Config, keras.Model, list[str], list[str]]:
    """Rebuilds a trained run's model with its final weights.

    Returns:
        `(config, model, src_vocab, tgt_vocab)`.
    """
    model_dir = Path(model_dir)
    cfg = load_config(model_dir)
    src_vocab = load_vocab(model_dir / SRC_VOCAB_FILE)
    tgt_vocab = load_vocab(model_dir / TGT_VOCAB_FILE)
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the run in {model_dir} has not "
                                "finished training. Rerun the same `keras-s2s train` to resume.")
    model = build_seq2seq(cfg.model, len(src_vocab), len(tgt_vocab))
    model.load_weights(str(weights))
    return cfg, model, src_vocab, tgt_vocab


def load_translator(model_dir: str | Path) -> Translator:
    """The in-graph string-to-string Translator of a trained run."""
    cfg, model, src_vocab, tgt_vocab = load_model(model_dir)
    return Translator(Tokenizer(src_vocab, cfg.data.src_tokenizer, name="src_tokenizer"),
                      Tokenizer(tgt_vocab, cfg.data.tgt_tokenizer, name="tgt_tokenizer"),
                      make_encode(model), make_step(model), cfg.data.reverse_source,
                      cfg.decode, trackables=(model,))
