"""Resolving a config: defaults ← preset ← YAML file ← `--set key=value` overrides,
checked key by key and against each other."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml

from keras_s2s.config.presets import PRESETS
from keras_s2s.config.sections import (
    Config,
    ConfigError,
    DataConfig,
    DecodeConfig,
    DistillConfig,
    ModelConfig,
    TrainConfig,
)


def _merge(base: Mapping[str, Any], update: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Returns `base` updated by `update`; every key of `update` must exist in `base`."""
    merged = dict(base)
    for key, value in update.items():
        path = f"{where}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"Unknown config key '{path}'. Known keys here: {known}.")
        if isinstance(base[key], Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(f"Config key '{path}' is a section; received: {value!r}.")
            merged[key] = _merge(base[key], value, f"{path}.")
        else:
            merged[key] = _coerce(path, base[key], value)
    return merged


def _coerce(path: str, default: Any, value: Any) -> Any:
    """Checks `value` against the type of the default and converts ints to floats."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"Config key '{path}' takes true/false; received: {value!r}.")
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if default == "auto" and isinstance(value, int) and not isinstance(value, bool):
        return value  # an `auto_or_positive` count; `validate` checks the rest
    if not isinstance(value, type(default)) or isinstance(value, bool):
        raise ConfigError(
            f"Config key '{path}' takes a {type(default).__name__}; received: {value!r}.")
    return value


def parse_override(text: str) -> dict[str, Any]:
    """Turns `"model.hidden_dim=128"` into `{"model": {"hidden_dim": 128}}` (YAML-typed)."""
    if "=" not in text:
        raise ConfigError(f"--set takes key=value, e.g. model.hidden_dim=128; received: {text!r}.")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: the value {raw!r} is not valid YAML; quote it, e.g. "
                          f"--set '{key}=\"{raw}\"'.") from None
    nested: dict[str, Any] = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def from_dict(values: Mapping[str, Any]) -> Config:
    """Builds a `Config` from a (possibly partial) nested dict, rejecting unknown keys."""
    merged = _merge(Config().to_dict(), values)
    sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
                "decode": DecodeConfig, "distill": DistillConfig}
    kwargs = {name: sections[name](**value) if name in sections else value
              for name, value in merged.items()}
    return validate(Config(**kwargs))


def validate(cfg: Config) -> Config:
    """Rejects values that would fail later with an obscure error: a choice outside its
    `Literal`, or a `positive` field that is not > 0."""
    for section in dataclasses.fields(cfg):
        values = getattr(cfg, section.name)
        if not dataclasses.is_dataclass(values):
            continue
        hints = typing.get_type_hints(type(values))
        for field in dataclasses.fields(values):
            key, value = f"{section.name}.{field.name}", getattr(values, field.name)
            allowed = choices_of(hints[field.name])
            if allowed and value not in allowed:
                raise ConfigError(
                    f"Config key '{key}' must be one of {allowed}; received: {value!r}.")
            if field.metadata.get("positive") and value <= 0:
                raise ConfigError(f"Config key '{key}' must be positive; received: {value}.")
            if field.metadata.get("auto_or_positive") and not (
                    value == "auto" or (isinstance(value, int) and value > 0)):
                raise ConfigError(f"Config key '{key}' takes auto or a positive whole number; "
                                  f"received: {value!r}.")
    _check_together(cfg)
    return cfg


def can_replace_unk(cfg: Config) -> bool:
    """Whether the run's search can put the attended source word in place of `<unk>`: it
    needs attention and vocabulary (word, space, char) tokenizers on both sides."""
    data = cfg.data
    return cfg.model.attention != "none" and "sentencepiece" not in (data.src_tokenizer,
                                                                     data.tgt_tokenizer)


def _check_together(cfg: Config) -> None:
    """Keys that only make sense together: the first broken rule is the error."""
    model, train, data = cfg.model, cfg.train, cfg.data
    rules = [
        (train.keep_best == "bleu" and not train.validate_bleu, "train.keep_best",
         "bleu needs train.validate_bleu: true (and validation data)"),
        *[(not 0.0 <= value < 1.0, key, f"is a probability in [0, 1); received: {value}")
          for key, value in (("data.word_dropout", data.word_dropout),
                             ("model.dropout", model.dropout),
                             ("train.label_smoothing", train.label_smoothing))],
        (train.warmup_steps < 0, "train.warmup_steps",
         f"counts steps (0 = no warm-up); received: {train.warmup_steps}"),
        (train.average_last > max(train.keep_epoch_weights, 0), "train.average_last", "averages "
         f"kept epoch weights: needs train.keep_epoch_weights >= {train.average_last}"),
        (cfg.decode.replace_unk and not can_replace_unk(cfg), "decode.replace_unk",
         "copies the attended source word in place of <unk> and needs model.attention and "
         f"word, space or char tokenizers; received: attention {model.attention}, "
         f"tokenizers {data.src_tokenizer}/{data.tgt_tokenizer}"),
        (cfg.decode.coverage_penalty < 0
         or (cfg.decode.coverage_penalty > 0 and model.attention == "none"),
         "decode.coverage_penalty", "is GNMT's beta >= 0 and needs model.attention (it "
         f"rewards attending to every source word); received: "
         f"{cfg.decode.coverage_penalty} with attention {model.attention}"),
        (model.input_feeding and model.attention == "none", "model.input_feeding",
         "feeds the attentional state back and needs model.attention (dot, general or "
         "concat); received: attention none"),
        (train.cpu_replicas not in ("auto", 1) and train.strategy not in ("auto", "mirrored"),
         "train.cpu_replicas", "splits one machine's CPU between mirrored replicas and needs "
         f"train.strategy auto or mirrored; received: {train.strategy}"),
        (model.bidirectional_encoder and model.hidden_dim % 2, "model.bidirectional_encoder",
         "splits model.hidden_dim between the two directions and needs it even; received: "
         f"{model.hidden_dim}")]
    for broken, key, why in rules:
        if broken:
            raise ConfigError(f"Config key '{key}' {why}.")


def choices_of(hint: Any) -> tuple:
    """The allowed values of a `Literal[...]` type (empty for any other type)."""
    return typing.get_args(hint) if typing.get_origin(hint) is Literal else ()


def resolve(preset: str | None = None, config_file: str | Path | None = None,
            overrides: Sequence[str | Mapping[str, Any]] = ()) -> Config:
    """Defaults ← preset ← YAML file ← `--set` overrides, later ones winning.

    Args:
        preset: a name from `keras_s2s.config.presets.PRESETS`, or None for the defaults.
        config_file: a YAML file of nested sections (`model:`, `train:` ...).
        overrides: `key=value` strings with dotted keys, e.g. `train.epochs=3`, or nested
            dicts such as `{"data": {"train_src": path}}` (values taken as they are).

    Returns:
        The frozen, validated `Config`.
    """
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"Unknown preset {preset!r}. Choose one of: {', '.join(PRESETS)}.")
        values = deep_update(values, PRESETS[preset])
    if config_file is not None:
        values = deep_update(values, load_yaml(config_file))
    for override in overrides:
        update = parse_override(override) if isinstance(override, str) else override
        values = deep_update(values, update)
    return from_dict(values)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Reads a YAML config file; the top level must be a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}.")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:  # bad YAML, or not a text file
        mark = getattr(err, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"Config file {path}{line} is not valid YAML text "
                          f"({getattr(err, 'problem', None) or err}); fix it.") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"Config file {path} must hold a mapping; received: {type(loaded)}.")
    return loaded


def save(cfg: Config, path: str | Path) -> None:
    """Writes the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


def deep_update(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `update` merged in, nested sections key by key (`update` wins)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out
