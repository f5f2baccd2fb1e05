"""The paper's studies over an `Experiment`: reversal, beam and ensembles, rescoring, length,
sentence representations; each writes JSON, Markdown and PNG."""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

from keras_s2s.constants import UNK_ID
from keras_s2s.decode.rescore import rescore
from keras_s2s.evaluation.evaluate import evaluate
from keras_s2s.evaluation.metrics import bleu_signature, closest_to
from keras_s2s.experiments import SEARCHES, STUDIES
from keras_s2s.experiments.experiment import Experiment
from keras_s2s.experiments.figures import pca_2d, plot_length, plot_pca

# The paper's Figure 2 phrases: word order (left) and voice/paraphrase (right).
PCA_PHRASES = (
    (1, "John respects Mary"), (1, "Mary respects John"), (1, "John admires Mary"),
    (1, "Mary admires John"), (1, "Mary is in love with John"), (1, "John is in love with Mary"),
    (2, "I gave her a card in the garden"), (2, "In the garden , I gave her a card"),
    (2, "She was given a card by me in the garden"), (2, "She gave me a card in the garden"),
    (2, "In the garden , she gave me a card"), (2, "I was given a card by her in the garden"))


def study_reverse(exp: Experiment, **_) -> dict:
    """The same model trained with and without source reversal: test perplexity and BLEU."""
    rows = []
    for reverse in (False, True):
        run = [exp.member(0, reverse)]
        figures = evaluate(exp.driver(run), exp.sources, exp.refs, exp.beam_size,
                           hyps=exp.translate(run, exp.beam_size))
        rows.append({"source order": "reversed" if reverse else "forward",
                     "test perplexity": figures["perplexity"], "BLEU": figures["bleu"],
                     "BLEU tokenized": figures["bleu_tokenized"], "chrF": figures["chrf"]})
    holds = rows[1]["test perplexity"] < rows[0]["test perplexity"] and \
        rows[1]["BLEU"] > rows[0]["BLEU"]
    return exp.save("reverse", {"paper_direction_holds": holds, "beam_size": exp.beam_size,
                                "attention": exp.cfg.model.attention,
                                "signature": bleu_signature()},
                    rows, ["source order", "test perplexity", "BLEU", "BLEU tokenized", "chrF"],
                    f"Beam {exp.beam_size}, attention: {exp.cfg.model.attention}. Paper (WMT'14, "
                    "no attention): perplexity 5.8 → 4.7, BLEU 25.9 → "
                    f"30.6 with reversal. Direction {'holds' if holds else 'does NOT hold'} here.")


def study_beam(exp: Experiment, members: int = 5, beams: Sequence[int] = (1, 2, 5, 12),
               **_) -> dict:
    """BLEU by beam size for one model and ensembles of 2 and `members` (paper Table 1)."""
    dirs = [exp.member(i) for i in range(members)]
    singles = [exp.bleu(exp.translate([d], exp.beam_size)) for d in dirs]
    rows = []
    for size in sorted({1, min(2, members), members}):
        row = {"models": "single (seed 0)" if size == 1 else f"ensemble of {size}"}
        for beam in beams:
            row[f"beam {beam}"] = exp.bleu(exp.translate(dirs[:size], beam))
            exp.log(f"{row['models']}, beam {beam}: BLEU {row[f'beam {beam}']}")
        rows.append(row)
    results = {"single_model_bleu": singles, "single_beam": exp.beam_size,
               "ensemble_beats_best_single": rows[-1][f"beam {exp.beam_size}"] > max(singles)
               if exp.beam_size in beams and members > 1 else None,
               "signature": bleu_signature()}
    return exp.save("beam", results, rows, ["models"] + [f"beam {b}" for b in beams],
                    f"Each member alone, beam {exp.beam_size}: {singles}.")


def study_rescore(exp: Experiment, members: int = 5, n_best: int = 12, **_) -> dict:
    """Rescores a baseline's n-best list by an even average with other models (paper Table 2).

    No external system exists here: the baseline is `reversed_0`'s own beam n-best list with
    its log-probabilities; the rescorer is the ensemble of the other members (or the forward
    model when there is one member).
    """
    base = exp.member(0)
    others = [exp.member(i) for i in range(1, members)] or [exp.member(0, reverse=False)]
    lists = [[(hyp.text, hyp.log_prob) for hyp in hyps]
             for hyps in exp.driver([base]).nbest(exp.sources, n_best, n_best)]
    model_scores = exp.driver(others).score_nbest(exp.sources, lists)
    even = [ranked[0][0] for ranked in rescore(lists, model_scores, 0.5)]
    alone = [ranked[0][0] for ranked in rescore(lists, model_scores, 0.0)]
    oracle = closest_to([[text for text, _ in c] for c in lists], exp.refs)
    rows = [{"method": f"baseline: reversed_0, beam {n_best}, 1-best", "BLEU":
             exp.bleu([c[0][0] for c in lists])},
            {"method": f"rescored: even average with {len(others)} other model(s)",
             "BLEU": exp.bleu(even)},
            {"method": "rescorer alone on the same list", "BLEU": exp.bleu(alone)},
            {"method": f"oracle of the {n_best}-best list (sentence BLEU)",
             "BLEU": exp.bleu(oracle)}]
    return exp.save("rescore", {"n_best": n_best, "rescorers": [d.name for d in others],
                                "signature": bleu_signature()}, rows, ["method", "BLEU"])


def length_buckets(lengths: Sequence[int], count: int = 6) -> list[tuple[int, int]]:
    """Up to `count` inclusive `(low, high)` length ranges holding about equal numbers of
    sentences (quantiles), so short and long test sets both give several points."""
    edges = sorted({int(round(q)) for q in np.quantile(lengths, np.linspace(0, 1, count + 1))})
    if len(edges) == 1:
        return [(edges[0], edges[0])]
    return [(edges[0] if i == 0 else edges[i] + 1, edges[i + 1]) for i in range(len(edges) - 1)]


def study_length(exp: Experiment, **_) -> dict:
    """BLEU per source-length bucket (tokens the model reads), forward vs reversed (paper
    Figure 3), plus a PNG. With an attention config, the reversed model without attention
    joins them: the fixed-vector bottleneck shows as BLEU falling with length."""
    import tensorflow as tf

    attends = exp.cfg.model.attention != "none"
    suffix = f" ({exp.cfg.model.attention} attention)" if attends else ""
    members = {f"forward{suffix}": exp.member(0, False), f"reversed{suffix}": exp.member(0, True)}
    if attends:
        members["reversed, no attention"] = exp.member(0, True, attention=False)
    hyps = {name: exp.translate([run], exp.beam_size) for name, run in members.items()}
    tokenizer = exp.translator([exp.member(0)]).src_tokenizer
    lengths = [len(row) for row in tokenizer.tokenize(tf.constant(exp.sources)).to_list()]
    rows = []
    for low, high in length_buckets(lengths):
        index = [i for i, n in enumerate(lengths) if low <= n <= high]
        refs = [exp.refs[i] for i in index]
        row = {"length": f"{low}-{high}" if high > low else str(low), "sentences": len(index)}
        row.update({name: exp.bleu([h[i] for i in index], refs) for name, h in hyps.items()})
        rows.append(row)
    plot_length(rows, list(hyps), exp.dir / "length.png",
                f"BLEU by source length (beam {exp.beam_size}, {len(exp.sources)} sentences)")
    totals = {name: exp.bleu(h) for name, h in hyps.items()}
    return exp.save("length", {"plot": "length.png", "attention": exp.cfg.model.attention,
                               "bleu": totals, "signature": bleu_signature()}, rows,
                    ["length", "sentences", *hyps], f"All sentences: {totals}.\n\n"
                    "![length](length.png)")


def phrase_pca(translator, phrases: Sequence[tuple[int, str]] = PCA_PHRASES
               ) -> tuple[np.ndarray, dict[str, list[float]], list[float]]:
    """2-D PCA of the top encoder layer's final hidden state, one PCA per group of phrases
    (each panel of the paper's Figure 2).

    Args:
        translator: a one-model `Translator`.
        phrases: `(group, text)` pairs.

    Returns:
        `points [n, 2]`, the variance share of the two components per group, and the share
        of `<unk>` tokens in each phrase.
    """
    import tensorflow as tf

    texts = tf.constant([text for _, text in phrases])
    states = translator.encoder_states(texts)
    layers = states["layers"] if isinstance(states, dict) else states  # attention: a dict
    hidden = np.asarray(layers[-2])  # h of the top layer, [n, H]
    groups = np.asarray([g for g, _ in phrases])
    points, variance = np.zeros([len(phrases), 2]), {}
    for group in sorted(set(groups.tolist())):
        points[groups == group], explained = pca_2d(hidden[groups == group])
        variance[str(group)] = explained.tolist()
    tokens = translator.src_tokenizer.tokenize(texts).to_list()
    unknown = [sum(t == UNK_ID for t in row) / max(len(row), 1) for row in tokens]
    return points, variance, unknown


def study_pca(exp: Experiment, phrases: Sequence[tuple[int, str]] = PCA_PHRASES, **_) -> dict:
    """`phrase_pca` of `reversed_0`, as a table and `pca.png` (paper Figure 2)."""
    points, variance, unknown = phrase_pca(exp.translator([exp.member(0)]), phrases)
    plot_pca(points, [t for _, t in phrases], [g for g, _ in phrases], exp.dir / "pca.png")
    rows = [{"phrase": text, "PC 1": float(p[0]), "PC 2": float(p[1]), "unknown words": float(u)}
            for (_, text), p, u in zip(phrases, points, unknown)]
    return exp.save("pca", {"plot": "pca.png", "explained_variance": variance}, rows,
                    ["phrase", "PC 1", "PC 2", "unknown words"], "![pca](pca.png)")


def run_study(name: str, exp: Experiment, **options) -> dict:
    """Runs one study (or `all`) and returns its results."""
    from keras_s2s.experiments.backtranslation import study_backtranslation
    from keras_s2s.experiments.recipe_search import study_recipe

    studies = {"reverse": study_reverse, "beam": study_beam, "rescore": study_rescore,
               "length": study_length, "pca": study_pca, "recipe": study_recipe,
               "backtranslation": study_backtranslation}
    if name == "all":
        return {study: studies[study](exp, **options) for study in STUDIES}
    if name not in studies:
        raise ValueError(f"Unknown study {name!r}; choose one of "
                         f"{STUDIES + SEARCHES + ('all',)}.")
    print(f"experiment {name}: {exp.dir}", file=sys.stderr)
    return studies[name](exp, **options)
