"""`keras-s2s translate | score | rescore`: decoding through one `Driver` on any back end."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from keras_s2s.cli.parser import backend_flags, command, positive_int
from keras_s2s.driver.request import SampleOptions, SearchOptions

SEARCH_FLAGS = SearchOptions._fields  # --length-penalty, --max-len-a, --max-len-b, …


def decode_from_args(args: argparse.Namespace):
    """The first run's decode settings with the search flags given applied (and checked)."""
    from keras_s2s import runs
    from keras_s2s.config import validate

    changes = {"beam_size": args.beam_size, "replace_unk": getattr(args, "replace_unk", None),
               "precision": args.precision,
               **{name: getattr(args, name) for name in SEARCH_FLAGS}}
    cfg = runs.load_config(args.model_dir[0])
    decode = dataclasses.replace(cfg.decode, **{k: v for k, v in changes.items()
                                                if v is not None})
    validate(dataclasses.replace(cfg, decode=decode))  # e.g. replace-unk without attention
    return decode


def translator_from_args(args: argparse.Namespace):
    """The Translator of `--model-dir` (one run, or several as an ensemble) with the run's
    decode settings and the search flags applied (what `export` bakes in)."""
    from keras_s2s import runs

    return runs.load_translator(args.model_dir, decode_from_args(args))


def refuse_search_flags(args: argparse.Namespace, why: str) -> None:
    """An error naming the search flags given to a command (or back end) that `why`."""
    given = [f"--{n.replace('_', '-')}" for n in SEARCH_FLAGS if getattr(args, n) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: {why}; drop them.")


def search_options(args: argparse.Namespace):
    """`SearchOptions` of the search flags given, for every back end; None if none is."""
    given = {name: getattr(args, name) for name in SEARCH_FLAGS}
    return SearchOptions(**given) if any(v is not None for v in given.values()) else None


def check_backend_flags(args: argparse.Namespace) -> None:
    """Exactly one back end, and only flags it honours (checked before anything loads)."""
    given = [flag for flag, value in (("--model-dir", args.model_dir),
                                      ("--saved-model", args.saved_model),
                                      ("--server", args.server)) if value]
    if len(given) != 1:
        raise ValueError("Pass exactly one of --model-dir DIR (a run), --saved-model DIR (an "
                         "export) or --server HOST:PORT (TF Serving); received: "
                         f"{', '.join(given) or 'none'}.")
    if args.precision and not args.model_dir:
        raise ValueError(f"--precision {args.precision}: an export computes in the precision "
                         "it was exported with; export it again with `keras-s2s export "
                         f"--precision {args.precision}`, or drop the flag.")
    replace_unk = getattr(args, "replace_unk", None)
    if replace_unk and args.server:
        raise ValueError("--replace-unk cannot be switched on per request: a served model "
                         "replaces <unk> if it was exported with `keras-s2s export "
                         "--replace-unk`.")


def open_driver(args: argparse.Namespace):
    """The `Driver` of the one back end the flags name: `--model-dir` (a run, or several as an
    ensemble), `--saved-model` (an export) or `--server` (TF Serving over gRPC)."""
    from keras_s2s.driver import Driver, SavedModelBackend, ServerBackend, TranslatorBackend

    check_backend_flags(args)
    if args.model_dir:
        backend = TranslatorBackend(translator_from_args(args))
    elif args.saved_model:
        backend = SavedModelBackend(args.saved_model)
        if getattr(args, "replace_unk", None) and not backend.replaces_unk:
            raise ValueError(f"{args.saved_model} was exported without --replace-unk; "
                             "re-export it with `keras-s2s export --replace-unk`.")
    else:
        backend = ServerBackend(args.server, args.model_name)
    return Driver(backend, args.batch_size, args.on_long_input, search_options(args))


def warn_long_inputs(driver, what: str = "line") -> dict:
    """One stderr warning per sentence the model read only in part; the count for --json."""
    for long_input in driver.long_inputs:
        print(f"warning: {long_input.message(what)}", file=sys.stderr)
    return {"truncated": len(driver.long_inputs)}


def read_input(path: str | None) -> list[str]:
    """The lines of `path`, else of stdin (UTF-8, or an error naming the line)."""
    from keras_s2s.data.corpus import iter_lines

    if path:
        return list(iter_lines(path))
    lines = []
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError as err:
            raise ValueError(f"stdin, line {number}: invalid UTF-8 ({err.reason}); "
                             "send UTF-8 text.") from None
    return lines


def nbest_line(index: int, hyp, token_scores: bool = False) -> str:
    """`i ||| hypothesis ||| score`, and for attention models ` ||| s-t …`: each output token
    t (0-based) with the source token s it attended to most (Pharaoh format); with
    `token_scores`, last ` ||| piece|log_prob …` for every output token, `</s>` included.

    Raises:
        ValueError: token scores asked of a back end that sends none (an older export).
    """
    line = f"{index} ||| {hyp.text} ||| {hyp.score:.4f}"
    if hyp.alignment:
        line += " ||| " + " ".join(f"{s}-{t}" for t, s in enumerate(hyp.alignment))
    if token_scores:
        if not hyp.tokens:
            raise ValueError("This model sends no token scores (an export made before they "
                             "existed): re-export it with `keras-s2s export`.")
        line += " ||| " + " ".join(f"{piece}|{lp:.4f}" for piece, lp in hyp.tokens)
    return line


SAMPLE_FLAGS = SampleOptions._fields  # --num-samples, --temperature, --top-k, …


def check_translate_flags(args: argparse.Namespace) -> None:
    """Flags that only make sense together (checked before anything loads)."""
    if args.token_scores and not (args.n_best or args.sample):
        raise ValueError("--token-scores adds a field to n-best lines: add --n-best N "
                         "(--n-best 1 for the best translation only).")
    if args.n_best and args.beam_size and args.n_best > args.beam_size:
        raise ValueError(f"--n-best {args.n_best} needs a beam at least as wide; received "
                         f"--beam-size {args.beam_size}.")
    sampling = [f"--{n.replace('_', '-')}" for n in SAMPLE_FLAGS if getattr(args, n) is not None]
    if sampling and not args.sample:
        raise ValueError(f"{', '.join(sampling)} set how --sample draws: add --sample.")
    searching = [f"--{n.replace('_', '-')}" for n in ("n_best", "beam_size", *SEARCH_FLAGS)
                 if getattr(args, n) is not None]
    if args.sample and searching:
        raise ValueError(f"--sample draws --num-samples translations with the model's length "
                         f"limits; {', '.join(searching)} are beam-search settings: drop them.")


def read_prefixes(path: str, count: int) -> list[str]:
    """One forced prefix per input line ("" = none), or an error if the counts differ."""
    from keras_s2s.data.corpus import iter_lines

    prefixes = list(iter_lines(path))
    if len(prefixes) != count:
        raise ValueError(f"--prefix-file {path} has {len(prefixes)} lines for {count} input "
                         "lines: give one prefix per line (an empty line for none).")
    return prefixes


def print_hypotheses(lists: list, args: argparse.Namespace, plain: bool) -> None:
    """One translation per line when `plain`, else n-best lines (with token scores)."""
    for i, hyps in enumerate(lists):
        for hyp in hyps:
            print(hyp.text if plain else nbest_line(i, hyp, args.token_scores))


def cmd_translate(args: argparse.Namespace) -> dict:
    """1-best translations, one per line, or n-best lists as `i ||| hypothesis ||| score`
    (`||| alignment` added for attention models, `||| piece|log_prob …` with
    --token-scores); `--prefix-file` forces each output's start; `--sample` draws."""
    from keras_s2s.config import DecodeConfig

    check_translate_flags(args)
    driver = open_driver(args)  # first: a bad model path fails before waiting on stdin
    texts = read_input(args.input)
    prefixes = read_prefixes(args.prefix_file, len(texts)) if args.prefix_file else None
    start = time.time()
    if args.sample:
        given = {n: getattr(args, n) for n in SAMPLE_FLAGS if getattr(args, n) is not None}
        options = SampleOptions(**given)
        lists = driver.sample(texts, options, prefixes)
        print_hypotheses(lists, args, options.num_samples == 1 and not args.token_scores)
    elif args.n_best:
        beam = args.beam_size or max(args.n_best, DecodeConfig().beam_size)
        print_hypotheses(driver.nbest(texts, args.n_best, beam, prefixes), args, False)
    elif prefixes is not None:
        print_hypotheses(driver.nbest(texts, 1, args.beam_size, prefixes), args, True)
    else:
        for line in driver.translate(texts, args.beam_size)[0]:
            print(line)
    return {"sentences": len(texts), "seconds": round(time.time() - start, 2),
            **warn_long_inputs(driver)}


def cmd_score(args: argparse.Namespace) -> dict:
    """Prints `log p(target | source)` of each line pair."""
    from keras_s2s.data.corpus import read_parallel

    refuse_search_flags(args, "score reads the given targets and searches nothing")
    driver = open_driver(args)
    pairs = read_parallel(args.src, args.tgt)
    log_probs, tokens = driver.score([s for s, _ in pairs], [t for _, t in pairs])
    for value in log_probs:
        print(f"{value:.4f}")
    return {"sentences": len(pairs), "total_log_prob": round(sum(log_probs), 4),
            "target_tokens": sum(tokens), **warn_long_inputs(driver)}


def cmd_rescore(args: argparse.Namespace) -> dict:
    """Prints the best hypothesis of each n-best list after rescoring (paper §3.3)."""
    from keras_s2s.data.corpus import iter_lines
    from keras_s2s.decode.rescore import read_nbest, rescore

    refuse_search_flags(args, "rescore scores the given lists and searches nothing")
    driver = open_driver(args)
    sources = list(iter_lines(args.src))
    candidates = read_nbest(args.nbest)
    if len(candidates) > len(sources):
        raise ValueError(f"{args.nbest} has n-best lists for {len(candidates)} sentences but "
                         f"{args.src} has {len(sources)} lines.")
    model_scores = driver.score_nbest(sources, candidates)
    long_inputs = warn_long_inputs(driver, what="n-best entry")
    for ranked in rescore(candidates, model_scores, args.weight):
        print(ranked[0][0] if ranked else "")
    return {"sentences": len(candidates), **long_inputs}


def cmd_align(args: argparse.Namespace) -> dict:
    """Writes a PNG heatmap of the attention weights while translating one sentence."""
    import numpy as np

    from keras_s2s.experiments.figures import plot_attention

    if not args.model_dir:
        refuse_search_flags(args, "an export's align signature uses its exported search "
                                  "(with --model-dir they apply)")
    (alignment,) = open_driver(args).align([args.sentence])
    if not np.any(alignment.weights):
        raise ValueError("This model has no attention (model.attention: none): there are no "
                         "weights to draw. Train with --set model.attention=general.")
    plot_attention(alignment.source, alignment.target, alignment.weights, args.out,
                   f"{args.sentence} → {alignment.translation}")
    print(f"wrote {args.out}", file=sys.stderr)
    return {"translation": alignment.translation, "out": args.out,
            "source": alignment.source, "target": alignment.target}


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "translate", "translate stdin (or --input)", cmd_translate)
    backend_flags(p)
    p.add_argument("--input", help="read sentences from this file instead of stdin")
    p.add_argument("--n-best", type=positive_int, help="print N hypotheses per sentence "
                   "(Moses format 'i ||| hypothesis ||| score')")
    p.add_argument("--token-scores", action="store_true",
                   help="with --n-best: add ' ||| piece|log_prob ...' for every output token")
    p.add_argument("--prefix-file", help="one forced start per input line (empty: none); the "
                   "search continues after it")
    p.add_argument("--sample", action="store_true", help="sample translations instead of "
                   "searching (e.g. back-translation)")
    p.add_argument("--num-samples", type=positive_int, help="--sample: translations per line "
                   "(1: plain lines; more: n-best lines)")
    p.add_argument("--temperature", type=float, help="--sample: 0 = greedy, 1 = the model")
    p.add_argument("--top-k", type=int, help="--sample: among the k most probable tokens")
    p.add_argument("--top-p", type=float, help="--sample: among the most probable tokens "
                   "reaching probability p")
    p.add_argument("--seed", type=int, help="--sample: the same seed, the same samples")

    p = command(sub, "score", "log p(target | source) of given sentence pairs", cmd_score)
    backend_flags(p, translates=False)
    p.add_argument("--src", required=True, help="source sentences")
    p.add_argument("--tgt", required=True, help="target sentences, line-aligned with --src")

    p = command(sub, "rescore", "re-rank a Moses n-best list with the model (paper §3.3)",
                cmd_rescore)
    backend_flags(p, translates=False)
    p.add_argument("--src", required=True, help="the source sentences")
    p.add_argument("--nbest", required=True, help="'i ||| hypothesis ||| score' lines")
    p.add_argument("--weight", type=float, default=0.5, help="share of the n-best's own score")

    p = command(sub, "align", "a PNG heatmap of the attention weights for one sentence",
                cmd_align)
    backend_flags(p)
    p.add_argument("sentence", help="the source sentence")
    p.add_argument("--out", required=True, help="the PNG file to write")
