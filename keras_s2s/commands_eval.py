"""`keras-s2s` commands that measure: evaluate, score, rescore, experiment."""

from __future__ import annotations

import argparse
import sys

from keras_s2s.commands import open_driver, resolve_config


def cmd_score(args: argparse.Namespace) -> dict:
    """Prints `log p(target | source)` of each line pair."""
    from keras_s2s.data.corpus import read_parallel

    driver = open_driver(args)
    pairs = read_parallel(args.src, args.tgt)
    log_probs, tokens = driver.score([s for s, _ in pairs], [t for _, t in pairs])
    for value in log_probs:
        print(f"{value:.4f}")
    return {"sentences": len(pairs), "total_log_prob": round(sum(log_probs), 4),
            "target_tokens": sum(tokens)}


def read_nbest(path: str) -> list[list[tuple[str, float]]]:
    """Moses n-best lines `i ||| hypothesis ||| score` → per sentence `(hypothesis, score)`."""
    from keras_s2s.data.corpus import iter_lines

    lists: list[list[tuple[str, float]]] = []
    for number, line in enumerate(iter_lines(path), start=1):
        fields = [f.strip() for f in line.split("|||")]
        try:
            index, hyp, score = int(fields[0]), fields[1], float(fields[-1])
        except (ValueError, IndexError):
            raise ValueError(f"{path}, line {number}: expected 'i ||| hypothesis ||| score'; "
                             f"received: {line!r}.") from None
        while len(lists) <= index:
            lists.append([])
        lists[index].append((hyp, score))
    return lists


def cmd_rescore(args: argparse.Namespace) -> dict:
    import numpy as np

    from keras_s2s.data.corpus import iter_lines
    from keras_s2s.decode.scoring import rescore

    driver = open_driver(args)
    sources = list(iter_lines(args.src))
    candidates = read_nbest(args.nbest)
    if len(candidates) > len(sources):
        raise ValueError(f"{args.nbest} has n-best lists for {len(candidates)} sentences but "
                         f"{args.src} has {len(sources)} lines.")
    pairs = [(source, hyp) for source, hyps in zip(sources, candidates) for hyp, _ in hyps]
    flat, _ = driver.score([s for s, _ in pairs], [h for _, h in pairs])  # all in batches
    ends = np.cumsum([len(hyps) for hyps in candidates])
    model_scores = [flat[end - len(hyps):end] for end, hyps in zip(ends, candidates)]
    for ranked in rescore(candidates, model_scores, args.weight):
        print(ranked[0][0] if ranked else "")
    return {"sentences": len(candidates)}


def held_out_pairs(args: argparse.Namespace, cfg=None) -> list[tuple[str, str]]:
    """`--src`/`--ref`, else the config's `data.test_src`/`test_tgt`, else the built-in test."""
    from keras_s2s import runs
    from keras_s2s.data.corpus import read_parallel

    if bool(args.src) != bool(args.ref):
        raise ValueError("Pass both --src and --ref (line-aligned), or neither.")
    if args.src:
        return read_parallel(args.src, args.ref)
    if cfg is None:
        cfg = runs.load_config(args.model_dir[0]) if args.model_dir else resolve_config(args)
    if cfg.data.test_src:
        return read_parallel(cfg.data.test_src, cfg.data.test_tgt)
    if cfg.data.train_src or cfg.data.train_tsv or cfg.data.train_tfds:
        raise ValueError("This run was trained on a corpus but its config names no test set "
                         "(data.test_src/test_tgt): pass --src FILE --ref FILE.")
    return runs.builtin_splits(cfg).test


def cmd_evaluate(args: argparse.Namespace) -> dict:
    """BLEU (detokenized and tokenized), chrF and perplexity of a run or an export."""
    from keras_s2s.assess import evaluate, format_figures

    driver = open_driver(args)
    pairs = held_out_pairs(args)
    figures = evaluate(driver, [s for s, _ in pairs], [t for _, t in pairs],
                       args.beam_size or 5)
    print(format_figures(figures), file=sys.stderr)
    return figures


def cmd_experiment(args: argparse.Namespace) -> dict:
    """Runs one of the paper's studies (training the models it needs) in `--model-dir`."""
    from keras_s2s.experiments import Experiment, run_study

    try:
        beams = [int(b) for b in args.beams.split(",")]
    except ValueError:
        raise ValueError(f"--beams takes comma-separated beam sizes, e.g. 1,2,5,12; received: "
                         f"{args.beams!r}.") from None
    cfg = resolve_config(args)
    pairs = held_out_pairs(args, cfg)
    experiment = Experiment(cfg, args.model_dir, pairs[:args.limit or None], args.beam_size or 5,
                            log=lambda text: print(text, file=sys.stderr))
    return run_study(args.study, experiment, members=args.members, beams=beams)
