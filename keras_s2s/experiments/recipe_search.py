"""The recipe search (`keras-s2s experiment recipe --steps FILE`): a ladder of training
settings, each step adding its changes to all the earlier ones, every step trained for the
same short budget; validation BLEU, perplexity and wall time per step.

A steps file is YAML::

    budget:                 # config overrides every step gets (a short run)
      train: {epochs: 5, decay_start_epoch: 3}
    steps:
      - name: the old recipe
        set: {model: {dropout: 0.2}}
      - name: + dropout 0.3
        set: {model: {dropout: 0.3}}
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

from keras_s2s.config import Config, ConfigError, resolve
from keras_s2s.config.resolve import load_yaml
from keras_s2s.experiments.experiment import Experiment
from keras_s2s.train.epoch_weights import validation_history

COLUMNS = ["step", "setting", "val BLEU", "Δ BLEU", "best val BLEU", "val perplexity",
           "epochs", "minutes"]


@dataclasses.dataclass(frozen=True)
class Step:
    """One rung of the ladder: its label and the config changes it adds (nested sections)."""

    name: str
    changes: Mapping[str, Any]


def load_steps(path: str | Path) -> tuple[dict, list[Step]]:
    """The budget overrides and the steps of a steps file.

    Raises:
        ConfigError: the file is missing, or is not a mapping of `budget` and `steps` where
            every step has a `name` and a `set` mapping.
    """
    values = load_yaml(path)
    unknown = sorted(set(values) - {"budget", "steps"})
    steps = values.get("steps")
    if unknown or not isinstance(steps, list) or not steps:
        raise ConfigError(f"{path}: a steps file holds `budget:` (optional) and a non-empty "
                          f"`steps:` list; received keys {sorted(values)}.")
    ladder = []
    for i, step in enumerate(steps):
        if (not isinstance(step, dict) or set(step) - {"name", "set"}
                or not isinstance(step.get("name"), str)
                or not isinstance(step.get("set", {}), dict)):
            raise ConfigError(f"{path}: step {i} must be a mapping with `name:` (text) and "
                              f"`set:` (config sections to change); received: {step!r}.")
        ladder.append(Step(step["name"], step.get("set") or {}))
    return values.get("budget") or {}, ladder


def ladder_configs(cfg: Config, budget: Mapping[str, Any],
                   steps: list[Step]) -> list[Config]:
    """Each step's resolved config: `cfg`, the budget, validation BLEU on, and the changes of
    this step and every earlier one. All are validated before anything trains."""
    overrides: list[Mapping[str, Any]] = [cfg.to_dict(), budget,
                                          {"train": {"validate_bleu": True}}]
    configs = []
    for step in steps:
        overrides.append(step.changes)
        configs.append(resolve(overrides=list(overrides)))
    return configs


def step_figures(run: Path) -> dict:
    """The last epoch's validation BLEU and perplexity, the best BLEU, and the wall time (the
    sum of the logged `epoch_seconds`) of one trained step; a figure the run did not log
    (no `train.validate_bleu`) is None, written as null in JSON and "—" in the table."""
    history = validation_history(run)
    last = history[max(history)]
    bleus = [h["val_bleu"] for h in history.values() if "val_bleu" in h]
    return {"val BLEU": last.get("val_bleu"), "best val BLEU": max(bleus, default=None),
            "val perplexity": last.get("val_perplexity"), "epochs": len(history),
            "minutes": sum(h.get("epoch_seconds", 0.0) for h in history.values()) / 60}


def study_recipe(exp: Experiment, steps: str | Path | None = None, **_) -> dict:
    """Trains every step of the ladder in `steps` (those already trained are read back) and
    tabulates what each change added to the validation BLEU."""
    if steps is None:
        raise ValueError("The recipe study needs a steps file: --steps FILE (see "
                         "configs/search/multi30k_en_fr.yaml).")
    budget, ladder = load_steps(steps)
    configs = ladder_configs(exp.cfg, budget, ladder)
    rows: list[dict] = []
    for i, (step, cfg) in enumerate(zip(ladder, configs)):
        run = exp.trained(f"step_{i}", cfg, f"step {i + 1}/{len(ladder)}: {step.name}")
        figures = step_figures(run)
        before = rows[-1]["val BLEU"] if rows else figures["val BLEU"]
        delta = None if None in (before, figures["val BLEU"]) else figures["val BLEU"] - before
        rows.append({"step": i, "setting": step.name, "Δ BLEU": delta, **figures})
    return exp.save("recipe", {"steps_file": str(steps), "budget": budget,
                               "changes": [dict(s.changes) for s in ladder]}, rows, COLUMNS,
                    f"Validation BLEU: greedy, detokenized sacrebleu after the last epoch of "
                    f"each step's budget (`{json.dumps(budget)}`); each step keeps every "
                    "earlier change. Minutes: the sum of the steps' `epoch_seconds`.")
