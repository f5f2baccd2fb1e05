"""`keras-s2s evaluate | experiment`: test-set figures of a run or an export, and the paper's
studies."""

from __future__ import annotations

import argparse
import sys

from keras_s2s.cli.decode_commands import check_backend_flags, open_driver, warn_long_inputs
from keras_s2s.cli.parser import (
    backend_flags,
    command,
    config_flags,
    positive_int,
    resolve_config,
    run_dir_flag,
)


def test_set_flags(p: argparse.ArgumentParser, src_help: str) -> None:
    """`--src`/`--ref`: a test set. Their dests (`test_src`, `test_ref`) are not training
    flags, so `resolve_config` never takes them for `data.train_src`."""
    p.add_argument("--src", dest="test_src", help=src_help)
    p.add_argument("--ref", dest="test_ref", help="references, line-aligned with --src")


def held_out_pairs(args: argparse.Namespace, cfg=None) -> list[tuple[str, str]]:
    """`--src`/`--ref`, else the config's `data.test_src`/`test_tgt`, else the built-in test."""
    from keras_s2s import runs, training
    from keras_s2s.data.corpus import read_parallel

    if bool(args.test_src) != bool(args.test_ref):
        raise ValueError("Pass both --src and --ref (line-aligned), or neither.")
    if args.test_src:
        return read_parallel(args.test_src, args.test_ref)
    if cfg is None:
        model_dirs = getattr(args, "model_dir", None)
        cfg = runs.load_config(model_dirs[0]) if model_dirs else resolve_config(args)
    if cfg.data.test_src:
        return read_parallel(cfg.data.test_src, cfg.data.test_tgt)
    if cfg.data.train_src or cfg.data.train_tsv or cfg.data.train_tfds:
        raise ValueError("This run was trained on a corpus but its config names no test set "
                         "(data.test_src/test_tgt): pass --src FILE --ref FILE.")
    return training.builtin_splits(cfg).test


def cmd_evaluate(args: argparse.Namespace) -> dict:
    """BLEU (detokenized and tokenized), chrF and perplexity of a run or an export."""
    from keras_s2s.evaluation.evaluate import evaluate, format_figures

    check_backend_flags(args)
    pairs = held_out_pairs(args)  # before loading: a missing --ref fails at once
    driver = open_driver(args)
    figures = evaluate(driver, [s for s, _ in pairs], [t for _, t in pairs],
                       args.beam_size or 5)
    figures.update(warn_long_inputs(driver))  # of the scoring pass: the same sources
    print(format_figures(figures))  # results go to stdout (the --json line last)
    return figures


BT_PARALLEL = 10000  # the back-translation study's parallel pairs, unless --parallel says


def cmd_experiment(args: argparse.Namespace) -> dict:
    """Runs one of the paper's studies (training the models it needs) in `--model-dir`."""
    from keras_s2s.experiments.experiment import Experiment
    from keras_s2s.experiments.studies import run_study

    if (args.steps is not None) != (args.study == "recipe"):
        raise ValueError("--steps FILE goes with the recipe study and only with it; received "
                         f"study {args.study!r} and --steps {args.steps!r}.")
    if args.parallel is not None and args.study != "backtranslation":
        raise ValueError("--parallel N goes with the backtranslation study only; received "
                         f"study {args.study!r}.")
    try:
        beams = [int(b) for b in args.beams.split(",")]
    except ValueError:
        raise ValueError(f"--beams takes comma-separated beam sizes, e.g. 1,2,5,12; received: "
                         f"{args.beams!r}.") from None
    cfg = resolve_config(args)
    pairs = held_out_pairs(args, cfg)
    experiment = Experiment(cfg, args.model_dir, pairs[:args.limit or None], args.beam_size or 5,
                            log=lambda text: print(text, file=sys.stderr))
    return run_study(args.study, experiment, members=args.members, beams=beams,
                     steps=args.steps, parallel=args.parallel or BT_PARALLEL)


def register(sub: argparse._SubParsersAction) -> None:
    from keras_s2s.experiments import SEARCHES, STUDIES

    p = command(sub, "evaluate", "BLEU (detokenized, tokenized), chrF, perplexity",
                cmd_evaluate)
    config_flags(p)
    backend_flags(p)
    test_set_flags(p, "source sentences (default: the built-in test split)")

    p = command(sub, "experiment", "the paper's studies: reverse, beam, rescore, length, pca "
                "(or all), the recipe search and back-translation; trains what they need",
                cmd_experiment)
    p.add_argument("study", choices=STUDIES + SEARCHES + ("all",))
    config_flags(p)
    run_dir_flag(p)
    test_set_flags(p, "test sources (default: the config's data.test_src, else the built-in "
                   "test split)")
    p.add_argument("--limit", type=positive_int, help="use the first N test sentences")
    p.add_argument("--beam-size", type=positive_int, help="beam of single-beam figures "
                   "(default 5)")
    p.add_argument("--members", type=positive_int, default=5,
                   help="ensemble size (seeds 0..N-1)")
    p.add_argument("--beams", default="1,2,5,12", help="beam sizes of the beam study")
    p.add_argument("--steps", help="the recipe study's steps file (YAML: budget and a ladder "
                   "of config changes)")
    p.add_argument("--parallel", type=positive_int,
                   help="the backtranslation study: training pairs kept parallel (the first "
                        f"N, default {BT_PARALLEL}); of the rest only the target side is used")
