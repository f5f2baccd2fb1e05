"""`distill`: sequence-level knowledge distillation (Kim & Rush 2016) as one resumable job.
The teacher (one run or an ensemble) translates the training sources with beam search, the
student trains on those translations (optionally mixed with the original targets), and
teacher and student are evaluated on the test set in one table."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable, Sequence

from keras_s2s import runs, training
from keras_s2s.config import Config, ConfigError, DistillConfig, can_replace_unk, resolve
from keras_s2s.constants import UNK, WEIGHTS_FILE
from keras_s2s.data.corpus import iter_lines, read_parallel
from keras_s2s.distill.shards import Translate, join_shards, translate_in_shards
from keras_s2s.driver import Driver, TranslatorBackend
from keras_s2s.evaluation.evaluate import evaluate
from keras_s2s.evaluation.metrics import bleu, closest_to
from keras_s2s.train.precision import choose_precision

DISTILL_DIR = "distill"  # inside the student's run directory
CORPUS_KEYS = ("train_src", "train_tgt", "valid_src", "valid_tgt", "test_src", "test_tgt")


def student_config(student: Config, teacher: Config) -> Config:
    """The student's config, its empty corpus paths taken from the teacher's.

    Raises:
        ConfigError: neither names training files (a TSV, TFDS set or the built-in task
            cannot be distilled line by line: write it to text files, pass --src/--tgt),
            or the student asks for `train.cpu_replicas` (see the message).
    """
    if student.train.cpu_replicas not in ("auto", 1):  # auto: 1 once the teacher has run
        raise ConfigError(
            f"train.cpu_replicas={student.train.cpu_replicas} splits the CPU before "
            "TensorFlow starts and holds every op to one thread, and distill translates with "
            "the teacher in this process before it trains: leave train.cpu_replicas at 1 "
            "for distill.")
    data = student.data
    inherited = {key: getattr(teacher.data, key) for key in CORPUS_KEYS
                 if not getattr(data, key) and getattr(teacher.data, key)}
    merged = resolve(overrides=[student.to_dict(), {"data": inherited}])
    if not (merged.data.train_src and merged.data.train_tgt):
        raise ConfigError("Distillation translates a training source file line by line, but "
                          "neither the student config nor the teacher's names "
                          "data.train_src/train_tgt: pass --src FILE --tgt FILE.")
    return merged


def _distilled_corpus(cfg: Config, teachers: Sequence[str], out: Path,
                      log: Callable[[str], None]) -> tuple[Config, dict]:
    """Translates the training sources with the teachers (resumable) and returns the config
    whose training pairs are the distilled ones (mixed with the originals if asked), with a
    report of the corpus and the teacher's validation BLEU."""
    folder = out / DISTILL_DIR
    precision = choose_precision(cfg.distill.precision).precision  # auto → what this host does
    teacher_cfgs = [runs.load_config(teacher) for teacher in teachers]
    replace = cfg.distill.replace_unk and all(map(can_replace_unk, teacher_cfgs))
    decode = dataclasses.replace(teacher_cfgs[0].decode, replace_unk=replace,
                                 beam_size=cfg.distill.beam_size, precision=precision)
    driver = Driver(TranslatorBackend(runs.load_translator(list(teachers), decode)))
    sources, originals = list(iter_lines(cfg.data.train_src)), list(iter_lines(cfg.data.train_tgt))
    if len(sources) != len(originals):
        raise ValueError(f"{cfg.data.train_src} has {len(sources):,} lines but "
                         f"{cfg.data.train_tgt} has {len(originals):,}: a distilled corpus "
                         "replaces each line's target, so the two must be line-aligned.")
    start = time.time()
    identity = {"teachers": [str(Path(t).resolve()) for t in teachers],
                "beam_size": cfg.distill.beam_size, "source": str(cfg.data.train_src),
                "precision": precision, "replace_unk": replace, "select": cfg.distill.select}
    shards = translate_in_shards(_teacher_translate(driver, cfg.distill, originals), sources,
                                 folder / "shards", cfg.distill.shard_lines, identity, log)
    distilled = folder / "train.distilled"
    lines = join_shards(shards, distilled)
    report = {"source": cfg.data.train_src, "lines": lines, "shards": len(shards),
              "teacher_beam": cfg.distill.beam_size, "teacher_precision": precision,
              "teacher_replace_unk": replace, "select": cfg.distill.select,
              "kept_original_for_unk": _original_where_unk(distilled, originals),
              "teachers": list(map(str, teachers)),
              "seconds_this_run": round(time.time() - start, 1)}
    report.update(_teacher_bleu(driver, cfg, folder / "report.json"))
    src, tgt = cfg.data.train_src, str(distilled)
    if cfg.distill.mix_original:  # both targets of every source, in two halves
        src, tgt = str(folder / "mixed.src"), str(folder / "mixed.tgt")
        Path(src).write_text("".join(f"{s}\n" for s in sources * 2), encoding="utf-8")
        Path(tgt).write_text(distilled.read_text(encoding="utf-8")
                             + "".join(f"{t}\n" for t in originals), encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return resolve(overrides=[cfg.to_dict(), {"data": {"train_src": src, "train_tgt": tgt}}]
                   ), report


def _teacher_translate(driver: Driver, settings: DistillConfig, originals: list[str]
                       ) -> Translate:
    """What a shard's lines become: the teacher's 1-best (`select: best`), or the hypothesis
    of its beam's n-best closest to the line's original target (`select: closest`, Kim &
    Rush's sequence-level interpolation)."""
    beam = settings.beam_size
    if settings.select == "best":
        return lambda first, chunk: driver.translate(chunk, beam)[0]

    def closest(first: int, chunk: list[str]) -> list[str]:
        lists = [[hyp.text for hyp in hyps] for hyps in driver.nbest(chunk, beam, beam)]
        return closest_to(lists, originals[first:first + len(chunk)])
    return closest


def _original_where_unk(distilled: Path, originals: list[str]) -> int:
    """Puts the original target in place of each teacher translation that holds `<unk>` (a
    student's word or char tokenizer would split the literal into `<`, `unk`, `>`), and
    returns how many lines it replaced."""
    lines = distilled.read_text(encoding="utf-8").splitlines()
    if len(originals) != len(lines):
        raise ValueError(f"{len(lines)} translations for {len(originals)} original targets: "
                         "data.train_src and data.train_tgt must be line-aligned.")
    kept = [i for i, line in enumerate(lines) if UNK in line]  # also "<unk>."
    for i in kept:
        lines[i] = " ".join(originals[i].split())
    distilled.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(kept)


def _teacher_bleu(driver: Driver, cfg: Config, earlier: Path) -> dict:
    """`{"teacher_valid_bleu": …}` at the distillation beam (none without validation data);
    a rerun reuses what an earlier run measured (`earlier`: its report)."""
    measured = json.loads(earlier.read_text("utf-8")) if earlier.is_file() else {}
    if "teacher_valid_bleu" in measured:
        return {"teacher_valid_bleu": measured["teacher_valid_bleu"]}
    if not (cfg.data.valid_src and cfg.data.valid_tgt):
        return {}
    pairs = read_parallel(cfg.data.valid_src, cfg.data.valid_tgt)
    hyps = driver.translate([s for s, _ in pairs], cfg.distill.beam_size)[0]
    return {"teacher_valid_bleu": bleu(hyps, [t for _, t in pairs])}


def compare_on_test(cfg: Config, teachers: Sequence[str], student: Path) -> list[dict]:
    """Teacher and student on the test set: parameters, BLEU, chrF, perplexity (beam as
    each run's `decode.beam_size`)."""
    pairs = read_parallel(cfg.data.test_src, cfg.data.test_tgt)
    rows = []
    for name, dirs in (("teacher", list(teachers)), ("student", [str(student)])):
        translator = runs.load_translator(dirs)
        figures = evaluate(Driver(TranslatorBackend(translator)), [s for s, _ in pairs],
                           [t for _, t in pairs], translator.decode_config.beam_size)
        rows.append({"model": name, "runs": dirs,  # the Translator holds the Keras models
                     "parameters": sum(m.count_params() for m in translator.trackables),
                     **{k: figures[k] for k in ("bleu", "chrf", "perplexity", "signature")}})
    return rows


def distill(teachers: Sequence[str], student: Config, out: str | Path,
            log: Callable[[str], None] = print, verbose: int | str = "auto") -> dict:
    """The whole chain into the run directory `out`; rerunning it after a kill resumes
    (finished shards stay, training resumes from its checkpoint).

    Returns:
        `{"corpus": the distillation report, "test": [teacher row, student row] or None}`.
    """
    out = Path(out)
    teacher_cfg = runs.load_config(teachers[0])  # also: a clear error for a wrong path
    cfg = student_config(student, teacher_cfg)
    cfg, report = _distilled_corpus(cfg, teachers, out, log)
    if not (out / WEIGHTS_FILE).is_file():
        training.train(cfg, out, verbose=verbose)
    rows = compare_on_test(cfg, teachers, out) if cfg.data.test_src else None
    results = {"corpus": report, "test": rows}
    (out / DISTILL_DIR / "results.json").write_text(json.dumps(results, indent=2),
                                                    encoding="utf-8")
    return results
