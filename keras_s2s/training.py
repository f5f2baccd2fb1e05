"""Training into a run directory: read and check the corpora, build vocabularies, fit."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from keras_s2s.config import Config
from keras_s2s.constants import DATA_REPORT_FILE
from keras_s2s.data.corpus import Corpus, PairListCorpus, open_corpus
from keras_s2s.data.pipeline import count_too_long, dataset_from_corpus, make_dataset, padding_stats
from keras_s2s.data.tasks import TaskSplits, load_task
from keras_s2s.data.vocab import vocab_exists
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.runs import build_vocabularies, load_tokenizers, write_config
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
