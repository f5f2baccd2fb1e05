"""Config resolution: presets, YAML, --set overrides and clear errors on bad keys."""

import pytest

from keras_s2s import cli
from keras_s2s.config import ConfigError, parse_override, resolve


def test_defaults_and_preset():
    assert resolve().model.hidden_dim == 512
    paper = resolve("paper")
    assert (paper.model.num_layers, paper.model.hidden_dim) == (4, 1000)
    assert paper.model.init_scale == 0.08
    assert paper.train.optimizer == "sgd" and paper.train.loss == "sentence_sum"


def test_yaml_then_overrides_win(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model:\n  hidden_dim: 64\ntrain:\n  epochs: 3\n", encoding="utf-8")
    cfg = resolve("tiny", path, ["train.epochs=5", "train.learning_rate=1", "seed=7"])
    assert cfg.model.hidden_dim == 64
    assert cfg.train.epochs == 5
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)
    assert cfg.seed == 7


def test_parse_override_types():
    assert parse_override("data.reverse_source=false") == {"data": {"reverse_source": False}}
    assert parse_override("model.dropout=0.2") == {"model": {"dropout": 0.2}}


@pytest.mark.parametrize("override, words", [
    ("model.hiden_dim=3", ["model.hiden_dim", "hidden_dim"]),
    ("modle.hidden_dim=3", ["modle"]),
    ("model.hidden_dim=big", ["model.hidden_dim", "int", "big"]),
    ("train.optimizer=adagrad", ["train.optimizer", "adagrad"]),
    ("model.num_layers=0", ["model.num_layers", "positive"]),
    ("model=3", ["model", "section"]),
    ("hidden_dim", ["key=value"]),
    ("train.cpu_replicas=0", ["train.cpu_replicas", "positive"]),
    ("train.cpu_replicas=two", ["train.cpu_replicas", "auto or a positive", "'two'"]),
    ("train.cpu_replicas=true", ["train.cpu_replicas", "str", "True"]),
    ("train.precision=2", ["train.precision", "one of", "received: 2"]),
    ("train.cpu_replicas=2,train.strategy=one-device",
     ["train.cpu_replicas", "auto or mirrored", "one-device"]),
])
def test_bad_values_name_the_key(override, words):
    with pytest.raises(ConfigError) as info:
        resolve(overrides=override.split(","))
    for word in words:
        assert word in str(info.value)


def test_unknown_key_in_yaml(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("train:\n  epoch: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="train.epoch"):
        resolve(config_file=path)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="Unknown preset 'huge'"):
        resolve("huge")


def test_cli_reports_bad_key_and_exits_nonzero(tmp_path, capsys):
    code = cli.main(["train", "--model-dir", str(tmp_path), "--set", "model.hiden_dim=8"])
    assert code == 2
    err = capsys.readouterr().err
    assert "model.hiden_dim" in err and "error" in err
    assert not list(tmp_path.iterdir())  # nothing was written for a rejected config


@pytest.mark.parametrize("key", ["model.dropout", "train.label_smoothing", "data.word_dropout"])
@pytest.mark.parametrize("value", ["1.0", "-0.1"])
def test_probabilities_outside_0_1_are_refused_with_the_key(key, value):
    with pytest.raises(ConfigError, match=f"'{key}' is a probability in \\[0, 1\\); "
                                          f"received: {float(value)}"):
        resolve(overrides=[f"{key}={value}"])
