"""`Experiment`: the models of one experiment directory, trained on demand, shared by studies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Sequence

from keras_s2s import runs, training
from keras_s2s.config import Config, resolve
from keras_s2s.constants import WEIGHTS_FILE
from keras_s2s.driver import Driver, TranslatorBackend
from keras_s2s.evaluation.metrics import bleu
from keras_s2s.experiments.figures import markdown_table


class Experiment:
    """The models of one experiment directory, trained on demand and shared by the studies.

    Members `reversed_0 … reversed_{n-1}` differ in seed (initialisation and batch order),
    as the paper's ensemble; `forward_0` is `reversed_0` without source reversal, and with
    an attention config `reversed_0_no_attention` is `reversed_0` without attention. All
    share `reversed_0`'s vocabularies.

    Args:
        cfg: the resolved config (data, model, training of every member).
        directory: where members, results and plots go.
        test: held-out `(source, reference)` pairs.
        beam_size: the beam of single-beam figures.
        log: progress messages.
        verbose: Keras verbosity of training (2: one line per epoch, for notebooks).
    """

    def __init__(self, cfg: Config, directory: str | Path, test: Sequence[tuple[str, str]],
                 beam_size: int = 5, log: Callable[[str], None] = print,
                 verbose: int | str = "auto"):
        self.cfg, self.dir, self.verbose = cfg, Path(directory), verbose
        self.sources = [s for s, _ in test]
        self.refs = [t for _, t in test]
        self.beam_size, self.log = beam_size, log
        self._translators: dict[tuple, object] = {}
        self._translations: dict[tuple, list[str]] = {}

    def member(self, index: int = 0, reverse: bool = True, attention: bool = True) -> Path:
        """The run dir of one member, trained first if it has no final weights yet.

        `attention=False` gives the member's twin without attention (`…_no_attention`) when
        the config has attention: the same model otherwise, for the bottleneck comparison.
        """
        name = f"{'reversed' if reverse else 'forward'}_{index}"
        twin: dict = {}
        if not attention and self.cfg.model.attention != "none":
            name = f"{name}_no_attention"
            twin = {"model": {"attention": "none", "input_feeding": False},
                    "decode": {"replace_unk": False}}
        run = self.dir / "models" / name
        if (run / WEIGHTS_FILE).is_file():
            return run
        first = self.dir / "models" / "reversed_0"
        if run != first:
            self.member(0, True)  # its vocabularies are everyone's
            run.mkdir(parents=True, exist_ok=True)
            for vocab in list(first.glob("*.vocab")) + list(first.glob("*.spm.model")):
                shutil.copyfile(vocab, run / vocab.name)
        cfg = resolve(overrides=[self.cfg.to_dict(), twin, {
            "seed": self.cfg.seed + index, "data": {"reverse_source": reverse}}])
        return self.trained(name, cfg, f"training {name} (seed {cfg.seed}, reverse_source="
                                       f"{reverse}, attention {cfg.model.attention})")

    def trained(self, name: str, cfg: Config, message: str | None = None) -> Path:
        """The run dir `models/<name>`, trained with `cfg` first if it has no final weights
        (a killed training resumes); `message` is logged before training."""
        run = self.dir / "models" / name
        if not (run / WEIGHTS_FILE).is_file():
            self.log(message or f"training {name}")
            training.train(cfg, run, verbose=self.verbose)
        return run

    def translator(self, run_dirs: Sequence[Path]):
        """The in-process Translator of a model or an ensemble (loaded once)."""
        key = tuple(str(d) for d in run_dirs)
        if key not in self._translators:
            self._translators[key] = runs.load_translator(list(run_dirs))
        return self._translators[key]

    def driver(self, run_dirs: Sequence[Path]) -> Driver:
        """The `Driver` of a model or an ensemble (its Translator loaded once)."""
        return Driver(TranslatorBackend(self.translator(run_dirs)))

    def translate(self, run_dirs: Sequence[Path], beam: int) -> list[str]:
        """The test sources translated by a model or an ensemble (computed once)."""
        key = (tuple(str(d) for d in run_dirs), beam)
        if key not in self._translations:
            self._translations[key] = self.driver(run_dirs).translate(self.sources, beam)[0]
        return self._translations[key]

    def bleu(self, hyps: Sequence[str], refs: Sequence[str] | None = None) -> float:
        return bleu(hyps, self.refs if refs is None else refs)

    def save(self, name: str, results: dict, rows: list[dict], columns: list[str],
             notes: str = "") -> dict:
        """Writes `<name>.json` and `<name>.md` (a table) into the experiment directory."""
        self.dir.mkdir(parents=True, exist_ok=True)
        results = {"study": name, "test_sentences": len(self.sources), **results, "rows": rows}
        (self.dir / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False),
                                               encoding="utf-8")
        table = f"### {name}\n\n{markdown_table(rows, columns)}\n{notes}\n"
        (self.dir / f"{name}.md").write_text(table, encoding="utf-8")
        self.log(table)
        return results
