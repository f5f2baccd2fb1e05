"""Back-translation, end to end (`keras-s2s experiment backtranslation --parallel N`).

The config's training pairs are split: the first N stay parallel; of the rest only the
target side is kept, as if it were monolingual text (its sources are dropped). Then:

1. a reverse model (target → source, the config's model with the sides swapped) trains on
   the N parallel pairs;
2. it *samples* one synthetic source for each monolingual target sentence (temperature 1,
   seeded: Edunov et al. 2018 found sampled back-translations train better than beam ones);
3. the forward model trains on the N parallel pairs alone, and again on them plus the
   synthetic pairs;
4. both forward models are scored on the test set (beam search, sacreBLEU).

Every step is resumable: a rerun reads back what is already written or trained.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from keras_s2s.config import Config, resolve
from keras_s2s.data.corpus import iter_lines
from keras_s2s.driver import SampleOptions
from keras_s2s.experiments.experiment import Experiment
from keras_s2s.experiments.recipe_search import step_figures

COLUMNS = ["model", "parallel pairs", "synthetic pairs", "test BLEU", "best val BLEU",
           "epochs", "minutes"]
SIDES = ("src", "tgt")


@dataclasses.dataclass(frozen=True)
class SplitFiles:
    """The experiment's data files (plain UTF-8, one sentence per line)."""

    parallel_src: Path
    parallel_tgt: Path
    mono_tgt: Path
    synthetic_src: Path


def split_corpus(cfg: Config, parallel: int, directory: Path) -> SplitFiles:
    """Writes the first `parallel` pairs and the target side of the rest (once).

    Raises:
        ValueError: the config has no pair of text files, or no more than `parallel` pairs,
            so nothing is left over, or `directory` holds a split with another `parallel`.
    """
    files = SplitFiles(*(directory / name for name in (
        "parallel.src", "parallel.tgt", "mono.tgt", "synthetic.src")))
    marker = directory / "split.json"  # written last: the split is complete
    if marker.is_file():
        done = json.loads(marker.read_text(encoding="utf-8"))["parallel"]
        if done != parallel:
            raise ValueError(f"{directory} was split with --parallel {done}, not {parallel}: "
                             "rerun with that value, or give a new --model-dir.")
        return files
    if not (cfg.data.train_src and cfg.data.train_tgt):
        raise ValueError("The back-translation study splits a corpus of two text files: set "
                         "data.train_src and data.train_tgt (--src/--tgt); received "
                         f"{cfg.data.train_src!r} and {cfg.data.train_tgt!r}.")
    directory.mkdir(parents=True, exist_ok=True)
    sources = list(iter_lines(cfg.data.train_src))
    targets = list(iter_lines(cfg.data.train_tgt))
    if len(targets) <= parallel:
        raise ValueError(f"--parallel {parallel} keeps every one of the corpus's "
                         f"{len(targets)} pairs: nothing is left to back-translate. Give a "
                         "smaller --parallel.")
    for path, lines in ((files.parallel_src, sources[:parallel]),
                        (files.parallel_tgt, targets[:parallel])):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files.mono_tgt.write_text("\n".join(targets[parallel:]) + "\n", encoding="utf-8")
    marker.write_text(json.dumps({"parallel": parallel, "pairs": len(targets)}), encoding="utf-8")
    return files


def reverse_config(cfg: Config, files: SplitFiles) -> Config:
    """The config with source and target swapped (every `…src…`/`…tgt…` data key: files,
    languages, tokenizers, vocabulary sizes, length limits), training on the parallel pairs."""
    data = cfg.to_dict()["data"]
    swapped = {key: data[key.replace("src", "tgt")] for key in data if "src" in key}
    swapped.update({key: data[key.replace("tgt", "src")] for key in data if "tgt" in key})
    swapped.update(train_src=str(files.parallel_tgt), train_tgt=str(files.parallel_src))
    return resolve(overrides=[cfg.to_dict(), {"data": swapped}])


def forward_config(cfg: Config, src: list[Path], tgt: list[Path], directory: Path) -> Config:
    """The config training on the concatenation of `src`/`tgt` files (written once)."""
    joined = {}
    directory.mkdir(parents=True, exist_ok=True)
    for side, paths in zip(SIDES, (src, tgt)):
        joined[side] = directory / f"train.{side}"
        if not joined[side].is_file():
            text = "".join(p.read_text(encoding="utf-8") for p in paths)
            joined[side].write_text(text, encoding="utf-8")
    return resolve(overrides=[cfg.to_dict(), {"data": {
        "train_src": str(joined["src"]), "train_tgt": str(joined["tgt"])}}])


def back_translate(exp: Experiment, reverse_run: Path, files: SplitFiles, seed: int) -> None:
    """Samples one synthetic source per monolingual target line (written once)."""
    if files.synthetic_src.is_file():
        return
    targets = list(iter_lines(files.mono_tgt))
    exp.log(f"sampling {len(targets):,} synthetic sources with {reverse_run.name}")
    samples = exp.driver([reverse_run]).sample(
        targets, SampleOptions(num_samples=1, temperature=1.0, seed=seed))
    partial = files.synthetic_src.with_suffix(".partial")
    partial.write_text("\n".join(s[0].text for s in samples) + "\n", encoding="utf-8")
    partial.rename(files.synthetic_src)


def study_backtranslation(exp: Experiment, parallel: int = 10000, **_) -> dict:
    """Trains the reverse model, back-translates, trains both forward models, scores them."""
    files = split_corpus(exp.cfg, parallel, exp.dir / "data")
    reverse_run = exp.trained("reverse", reverse_config(exp.cfg, files))
    back_translate(exp, reverse_run, files, exp.cfg.seed)
    synthetic = sum(1 for _ in iter_lines(files.synthetic_src))
    variants = [("parallel only", [files.parallel_src], [files.parallel_tgt], 0),
                ("+ sampled back-translation", [files.parallel_src, files.synthetic_src],
                 [files.parallel_tgt, files.mono_tgt], synthetic)]
    rows = []
    for i, (name, src, tgt, extra) in enumerate(variants):
        cfg = forward_config(exp.cfg, src, tgt, exp.dir / "data" / f"forward_{i}")
        run = exp.trained(f"forward_{i}", cfg)
        figures = step_figures(run)
        rows.append({"model": name, "parallel pairs": parallel, "synthetic pairs": extra,
                     "test BLEU": exp.bleu(exp.translate([run], exp.beam_size)),
                     "best val BLEU": figures["best val BLEU"], "epochs": figures["epochs"],
                     "minutes": figures["minutes"]})
    return exp.save("backtranslation", {"parallel": parallel, "synthetic": synthetic,
                                        "beam_size": exp.beam_size}, rows, COLUMNS,
                    f"Test BLEU: beam {exp.beam_size}, detokenized sacreBLEU. The synthetic "
                    "sources are sampled (temperature 1) from a reverse model trained on the "
                    "parallel pairs alone.")
