"""`keras-s2s train | vocab | data-stats | info | average`: a run directory from a corpus or a
preset, and one whose weights average a run's epochs."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from keras_s2s.cli.parser import (
    command,
    config_flags,
    corpus_batches_flags,
    corpus_flags,
    positive_int,
    resolve_config,
    run_dir_flag,
)
from keras_s2s.constants import BEST_FILE, DATA_REPORT_FILE


def cmd_train(args: argparse.Namespace) -> dict:
    cfg = resolve_config(args)  # first: a config error needs no TensorFlow start-up
    from keras_s2s import training

    start = time.time()
    history = training.train(cfg, args.model_dir)
    last = {key: round(float(values[-1]), 4) for key, values in history.items()}
    report = json.loads((Path(args.model_dir) / DATA_REPORT_FILE).read_text(encoding="utf-8"))
    best_file = Path(args.model_dir) / BEST_FILE  # the best epoch, and why training stopped
    best = json.loads(best_file.read_text(encoding="utf-8")) if best_file.is_file() else {}
    return {"model_dir": args.model_dir, "train_pairs": report["train"]["pairs"],
            "seconds": round(time.time() - start, 1), **last,
            **{f"best_{k}": v for k, v in best.items() if k != "stopped"},
            "stopped": best.get("stopped", "the configured epochs are done")}


def cmd_vocab(args: argparse.Namespace) -> dict:
    cfg = resolve_config(args)
    from keras_s2s import runs, training

    train_corpus, _ = training.corpora(cfg)
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    report = train_corpus.scan().as_dict()
    runs.build_vocabularies(cfg, train_corpus, args.model_dir)
    src_tok, tgt_tok = runs.load_tokenizers(cfg, args.model_dir)
    print(f"wrote vocabularies to {args.model_dir}", file=sys.stderr)
    return {**report, "src_vocab_size": src_tok.vocab_size, "tgt_vocab_size": tgt_tok.vocab_size}


def cmd_data_stats(args: argparse.Namespace) -> dict:
    cfg = resolve_config(args)
    from keras_s2s import training

    with tempfile.TemporaryDirectory() as scratch:
        return training.data_stats(cfg, args.model_dir or scratch)


def cmd_info(args: argparse.Namespace) -> dict:
    cfg = resolve_config(args)
    from keras_s2s.model.seq2seq import build_seq2seq, parameter_counts

    model = build_seq2seq(cfg.model, cfg.data.src_vocab_size, cfg.data.tgt_vocab_size)
    counts = parameter_counts(model)
    for part, count in counts.items():
        print(f"{part:>18}: {count:,}")  # results go to stdout, logs to stderr
    return {"parameters": counts["total"], **{f"{k}_parameters": v for k, v in counts.items()
                                              if k != "total"}}


def cmd_average(args: argparse.Namespace) -> dict:
    """Writes a run directory whose weights are the mean of some of a run's epoch weights."""
    if bool(args.last) == bool(args.best):
        raise ValueError("Pass one of --last N (the last N epochs) or --best N (the N best by "
                         "the run's train.keep_best metric).")
    from keras_s2s import runs
    from keras_s2s.train.epoch_weights import average_weights, select_epochs
    from keras_s2s.train.selection import selection_metric

    metric = selection_metric(runs.load_config(args.model_dir).train, True)
    files = select_epochs(args.model_dir, args.last, args.best, metric.name,
                          not metric.higher_is_better)  # before anything is built
    model = runs.build_model(args.model_dir)
    average_weights(model, files)
    runs.save_run_copy(args.model_dir, args.out, model)
    print(f"wrote {args.out}: the mean of {', '.join(f.name for f in files)}", file=sys.stderr)
    return {"model_dir": args.out, "averaged": [f.name for f in files]}


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "train", "train a model (the built-in task unless a corpus is given)",
                cmd_train)
    config_flags(p)
    run_dir_flag(p)
    corpus_flags(p)

    p = command(sub, "vocab", "build the vocabularies of a corpus into --model-dir", cmd_vocab)
    config_flags(p)
    run_dir_flag(p)
    corpus_flags(p, valid=False)

    p = command(sub, "data-stats", "pairs, skipped lines, padding with/without bucketing",
                cmd_data_stats)
    corpus_batches_flags(p)

    p = command(sub, "info", "parameter counts of a preset/config (built, not trained)",
                cmd_info)
    config_flags(p)
    run_dir_flag(p, required=False)

    p = command(sub, "average", "average a run's kept epoch weights into a new run directory",
                cmd_average)
    run_dir_flag(p)
    p.add_argument("--last", type=positive_int, help="average the last N epochs")
    p.add_argument("--best", type=positive_int,
                   help="average the N best epochs by the run's train.keep_best metric "
                        "(validation perplexity, or BLEU)")
    p.add_argument("--out", required=True, help="the new run directory (usable by every "
                   "command that takes --model-dir)")
