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
from keras_s2s.data.tokenizer import Tokenizer
from keras_s2s.data.vocab import vocab_exists
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.runs import build_vocabularies, check_config, load_tokenizers, write_config
from keras_s2s.train import trainer
from keras_s2s.train.distribute import make_strategy, precision_scope, set_up_cpu_replicas
from keras_s2s.train.precision import choose_precision
from keras_s2s.train.selection import ScoreFn


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


def _say(text: str) -> None:
    print(f"data: {text}", file=sys.stderr, flush=True)


def _read_training_corpus(cfg: Config, model_dir: Path, corpus: Corpus, cache: bool = False):
    """Validates and counts the corpus, builds missing vocabularies, counts over-long pairs,
    saying what it does on stderr (reading a large corpus takes a while).

    Returns:
        `(counts, src_tokenizer, tgt_tokenizer, pairs, built)`: counts of pairs, skipped,
        empty and too-long pairs; the pairs as a string dataset (cached in memory if
        `cache`); whether this call built the vocabularies.
    """
    start = time.perf_counter()
    _say(f"reading {corpus.description} …")
    counts = corpus.scan().as_dict()  # raises CorpusError before any TF work
    _say(f"{counts['pairs']:,} pairs ({time.perf_counter() - start:.1f} s)")
    built = not vocab_exists(model_dir, (cfg.data.src_tokenizer, cfg.data.tgt_tokenizer))
    if built:
        _say(f"building vocabularies ({cfg.data.src_tokenizer} {cfg.data.src_vocab_size:,}, "
             f"{cfg.data.tgt_tokenizer} {cfg.data.tgt_vocab_size:,}) …")
        build_vocabularies(cfg, corpus, model_dir)
    src_tok, tgt_tok = load_tokenizers(cfg, model_dir)
    pairs = dataset_from_corpus(corpus)
    if cache:
        pairs = pairs.cache()
    counts["too_long"] = count_too_long(pairs, src_tok, tgt_tok, cfg.data)
    return counts, src_tok, tgt_tok, pairs, built


def check_usable(counts: dict, cfg: Config, description: str) -> None:
    """Stops with the counts and the keys to change when no pair can be trained on."""
    if counts["pairs"] - counts.get("too_long", 0) > 0:
        return
    raise ValueError(
        f"No usable sentence pairs in {description}: read {counts['pairs']} pairs; skipped "
        f"{counts['skipped']} bad lines; dropped {counts['empty']} with an empty side and "
        f"{counts.get('too_long', 0)} longer than data.max_src_len={cfg.data.max_src_len} / "
        f"data.max_tgt_len={cfg.data.max_tgt_len} tokens. Raise the limits (--set "
        "data.max_src_len=N --set data.max_tgt_len=N), check the files, or use "
        "--on-bad-line skip for files with some bad lines.")


def prepare_data(cfg: Config, model_dir: Path, train_corpus: Corpus,
                 valid_corpus: Corpus | None):
    """Validates the corpora (errors before training) and builds missing vocabularies.

    Returns:
        `(train_pairs, src_tokenizer, tgt_tokenizer)`; the report counting pairs, skipped bad
        lines, empty and over-long pairs is printed and written to `data_report.json`.

    Raises:
        ValueError: no usable pair (the vocabularies this call built are removed again).
    """
    counts, src_tok, tgt_tok, pairs, built = _read_training_corpus(cfg, model_dir,
                                                                   train_corpus)
    try:
        check_usable(counts, cfg, train_corpus.description)
    except ValueError:
        for file in [*model_dir.glob("*.vocab"), *model_dir.glob("*.spm.model")] if built else []:
            file.unlink()
        raise
    report = {"train": counts}
    if valid_corpus is not None:
        report["valid"] = valid_corpus.scan().as_dict()
    (model_dir / DATA_REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    _say(f"{train_corpus.description}: {json.dumps(report)}")
    return pairs, src_tok, tgt_tok


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
    figures, src_tok, tgt_tok, pairs, _ = _read_training_corpus(cfg, Path(model_dir),
                                                                train_corpus, cache=True)
    check_usable(figures, cfg, train_corpus.description)
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


def validation_bleu(cfg: Config, valid_corpus: Corpus | None, src_tok: Tokenizer,
                    tgt_tok: Tokenizer) -> ScoreFn | None:
    """`train.validate_bleu`: the model → sacreBLEU of its translations of the validation set
    (`train.validate_beam`; 1 = greedy), or None.

    The weights are copied into a float32 twin of the model and decoded by the same in-graph
    Translator `keras-s2s evaluate` uses, so the logged BLEU is what `evaluate` reports for
    those weights, whatever precision training runs in.
    """
    if not cfg.train.validate_bleu or valid_corpus is None:
        return None
    from keras_s2s.decode.translator import Translator
    from keras_s2s.driver import Driver, TranslatorBackend
    from keras_s2s.evaluation.metrics import bleu
    from keras_s2s.model.inference import make_encode, make_step

    pairs = list(valid_corpus.pairs())
    twin = build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size)
    translator = Translator(src_tok, tgt_tok, make_encode(twin), make_step(twin),
                            cfg.data.reverse_source, cfg.decode, trackables=(twin,))
    driver = Driver(TranslatorBackend(translator))

    def score(model: keras.Model) -> float:
        twin.set_weights(model.get_weights())
        hyps, _ = driver.translate([src for src, _ in pairs], cfg.train.validate_beam)
        return bleu(hyps, [tgt for _, tgt in pairs])
    return score


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
    # First: CPU replicas and MultiWorkerMirroredStrategy must exist before any op.
    replicas = set_up_cpu_replicas(cfg.train)
    strategy = make_strategy(cfg.train.strategy)
    model_dir = Path(model_dir)
    check_config(cfg, model_dir)  # before any file is written: a started run is never changed
    if train_corpus is None:
        train_corpus, valid_corpus = corpora(cfg)
    model_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)  # Python, NumPy and TF
    train_pairs, src_tok, tgt_tok = prepare_data(cfg, model_dir, train_corpus, valid_corpus)
    write_config(cfg, model_dir)  # the run's identity, once its data is known to be usable
    batches = dict(src_tok=src_tok, tgt_tok=tgt_tok, data=cfg.data,
                   batch_size=cfg.train.batch_size)

    counts: dict[int, int] = {}  # batches per epoch, each counted once

    def epoch_data(epoch: int) -> tf.data.Dataset:  # a fixed order per epoch: resumable
        data = make_dataset(train_pairs, shuffle=True, seed=cfg.seed * 1000 + epoch,
                            dropout=cfg.data.word_dropout, **batches)
        # Bucketing hides the number of batches; counting them gives the progress bar a total.
        if epoch not in counts:
            counts[epoch] = sum(1 for _ in data)
        return data.apply(tf.data.experimental.assert_cardinality(counts[epoch]))

    valid_ds = (make_dataset(dataset_from_corpus(valid_corpus), **batches)
                if valid_corpus is not None else None)
    steps_per_epoch = int(epoch_data(0).cardinality())
    _say(f"{steps_per_epoch:,} batches of {cfg.train.batch_size} per epoch")
    score = validation_bleu(cfg, valid_corpus, src_tok, tgt_tok)  # float32, outside the scope
    choice = choose_precision(cfg.train.precision)
    print(f"precision: {choice.precision} ({choice.reason})", file=sys.stderr)
    print(f"replicas: {strategy.num_replicas_in_sync} ({replicas.reason})", file=sys.stderr)
    if cfg.model.attention != "none" and cfg.data.reverse_source:
        print("note: attention with a reversed source learned to ignore attention on Multi30k "
              "(test BLEU 10.95 against 42.89 forward; docs/results/reverse_attention.md); "
              "set data.reverse_source: false unless you mean to compare", file=sys.stderr)
    with strategy.scope(), precision_scope(cfg.train.precision):  # build *and* compile here
        model = build_seq2seq(cfg.model, src_tok.vocab_size, tgt_tok.vocab_size)
        trainer.compile_model(model, cfg.train, steps_per_epoch)
    return trainer.fit(model, epoch_data, valid_ds, cfg.train, model_dir, steps_per_epoch,
                       verbose=verbose, score=score)
