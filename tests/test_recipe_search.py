"""The recipe search (`keras-s2s experiment recipe --steps FILE`): a ladder of cumulative
config changes, each trained for the same budget, tabulated by validation BLEU and time."""

import json

import pytest
from conftest import run_cli

from keras_s2s.config import ConfigError, resolve
from keras_s2s.experiments.recipe_search import ladder_configs, load_steps
from keras_s2s.train.epoch_weights import validation_history

STEPS = """
budget:
  train: {epochs: 1}
steps:
  - name: base
    set: {model: {dropout: 0.0}}
  - name: + dropout
    set: {model: {dropout: 0.2}}
  - name: + label smoothing
    set: {train: {label_smoothing: 0.1}}
"""


def steps_file(tmp_path, text=STEPS):
    path = tmp_path / "steps.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_step_keeps_every_earlier_change_and_the_budget(tmp_path):
    budget, steps = load_steps(steps_file(tmp_path))
    assert [s.name for s in steps] == ["base", "+ dropout", "+ label smoothing"]
    configs = ladder_configs(resolve("tiny", overrides=["train.epochs=9"]), budget, steps)
    assert [c.model.dropout for c in configs] == [0.0, 0.2, 0.2]
    assert [c.train.label_smoothing for c in configs] == [0.0, 0.0, 0.1]
    assert all(c.train.epochs == 1 and c.train.validate_bleu for c in configs)


@pytest.mark.parametrize("text, says", [
    ("budget: {}\n", "non-empty `steps:`"),
    ("steps: []\n", "non-empty `steps:`"),
    ("steps: [{name: a}]\nextra: 1\n", "received keys"),
    ("steps: [{set: {}}]\n", "step 0 must be a mapping with `name:`"),
    ("steps: [{name: a, set: [1]}]\n", "step 0"),
    ("steps: [{name: a, sett: {}}]\n", "step 0"),
])
def test_malformed_steps_files_are_refused(tmp_path, text, says):
    with pytest.raises(ConfigError, match=says):
        load_steps(steps_file(tmp_path, text))


def test_a_bad_config_change_is_refused_before_anything_trains(tmp_path):
    budget, steps = load_steps(steps_file(tmp_path, "steps:\n  - name: a\n    set: "
                                                    "{model: {dropout: 1.5}}\n"))
    with pytest.raises(ConfigError, match="dropout"):
        ladder_configs(resolve("tiny"), budget, steps)
    assert not list(tmp_path.glob("models"))


def test_steps_go_with_the_recipe_study_only(tmp_path, capsys):
    code, _, err = run_cli(capsys, ["experiment", "recipe", "--preset", "tiny",
                                    "--model-dir", str(tmp_path / "a")])
    assert code != 0 and "--steps FILE goes with the recipe study" in err
    assert "Traceback" not in err
    code, _, err = run_cli(capsys, ["experiment", "beam", "--preset", "tiny", "--steps",
                                    str(steps_file(tmp_path)), "--model-dir",
                                    str(tmp_path / "b")])
    assert code != 0 and "received study 'beam'" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_search_trains_each_step_and_tabulates_its_logged_figures(tmp_path, capsys):
    out = tmp_path / "search"
    args = ["experiment", "recipe", "--preset", "tiny", "--set", "data.task_size=300",
            "--steps", str(steps_file(tmp_path)), "--model-dir", str(out), "--json"]
    code, stdout, err = run_cli(capsys, args)
    assert code == 0, err
    results = json.loads(stdout.strip().splitlines()[-1])
    rows = results["rows"]
    assert [r["setting"] for r in rows] == ["base", "+ dropout", "+ label smoothing"]
    for i, row in enumerate(rows):
        logged = validation_history(out / "models" / f"step_{i}")
        assert row["epochs"] == 1 == len(logged)
        assert row["val BLEU"] == logged[1]["val_bleu"]
        assert row["val perplexity"] == logged[1]["val_perplexity"]
        assert row["minutes"] == pytest.approx(logged[1]["epoch_seconds"] / 60) and \
            row["minutes"] > 0
    assert rows[0]["Δ BLEU"] == 0.0
    assert rows[2]["Δ BLEU"] == pytest.approx(rows[2]["val BLEU"] - rows[1]["val BLEU"])
    saved = resolve(config_file=out / "models" / "step_2" / "config.yaml")
    assert saved.model.dropout == 0.2 and saved.train.label_smoothing == 0.1
    assert "| + dropout |" in (out / "recipe.md").read_text(encoding="utf-8")

    code, stdout, _ = run_cli(capsys, args)  # a rerun reads the trained steps back
    assert code == 0 and json.loads(stdout.strip().splitlines()[-1])["rows"] == rows
