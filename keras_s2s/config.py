"""Frozen configuration: presets, YAML files and `--set key=value` overrides."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml

from keras_s2s.presets import PRESETS

# The allowed values of every choice key, each listed once: `validate` checks the config
# against them and the CLI builds its `choices=` from them (`typing.get_args`).
TokenizerKind = Literal["word", "space", "char", "sentencepiece"]
OnBadLine = Literal["error", "skip"]
LSTMKind = Literal["fast", "keras"]
AttentionKind = Literal["none", "dot", "general", "concat"]
Optimizer = Literal["adam", "sgd"]
LossKind = Literal["token_mean", "sentence_sum"]
Schedule = Literal["constant", "paper"]
Strategy = Literal["auto", "mirrored", "multi-worker", "one-device"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]


def positive(default: int | float) -> Any:
    """A numeric field that must be > 0 (checked by `validate`, next to the field)."""
    return dataclasses.field(default=default, metadata={"positive": True})


class ConfigError(ValueError):
    """A configuration key or value that cannot be used; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where sentence pairs come from and how they become token ids."""

    task: str = "numbers_fr"  # built-in generated task used when no corpus files are given
    task_size: int = 30000  # sentence pairs the built-in task generates for training
    task_seed: int = 2014  # fixes the built-in task's splits whatever the training seed
    train_src: str = ""  # corpus files: a line-aligned pair of text files (.gz accepted) …
    train_tgt: str = ""
    train_tsv: str = ""  # … or one two-column TSV …
    train_tfds: str = ""  # … or a TFDS set "name/config:split", e.g. "wmt14_translate/fr-en:train"
    valid_src: str = ""  # validation data, same three forms (optional)
    valid_tgt: str = ""
    valid_tsv: str = ""
    valid_tfds: str = ""
    test_src: str = ""  # held-out pairs for `evaluate`/`experiment` (text files only; the
    test_tgt: str = ""  # built-in task's test split when empty)
    src_lang: str = "en"  # TFDS feature keys of the two sides
    tgt_lang: str = "fr"
    tsv_src_column: int = 0  # 0-based TSV columns of source and target
    tsv_tgt_column: int = 1
    on_bad_line: OnBadLine = "error"  # "error": stop at an undecodable line; "skip": count it
    # "word": words and punctuation (spacing restored on output); "space": whitespace only
    # (pre-tokenized text); "char": Unicode characters; "sentencepiece": subwords.
    src_tokenizer: TokenizerKind = "word"
    tgt_tokenizer: TokenizerKind = "word"
    src_vocab_size: int = positive(8000)  # the N most frequent pieces, reserved tokens included
    tgt_vocab_size: int = positive(8000)
    reverse_source: bool = True  # the paper's trick: feed the source backwards
    max_src_len: int = positive(50)  # longer pairs are filtered out of training (and counted)
    max_tgt_len: int = positive(50)
    bucket_width: int = positive(3)  # a batch holds pairs whose src and tgt lengths agree to this
    batch_tokens: int = 0  # >0: size batches by tokens instead of train.batch_size sentences
    shuffle_buffer: int = 20000  # pairs shuffled with the run's seed before bucketing
    deterministic: bool = True  # tf.data keeps element order (reproducible batches)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes of the stacked-LSTM encoder and decoder."""

    embedding_dim: int = positive(256)
    hidden_dim: int = positive(512)
    num_layers: int = positive(2)  # per side; encoder layer i initialises decoder layer i
    dropout: float = 0.0
    init_scale: float = 0.0  # >0: every weight ~ U(-s, s) as in the paper (0.08); 0: Keras defaults
    peephole: bool = False  # the paper's (Graves) LSTM with peephole connections
    lstm: LSTMKind = "fast"  # "fast": inputs projected in one matmul (CPU); "keras": keras LSTM
    attention: AttentionKind = "none"  # Luong global attention score; "none": the paper
    input_feeding: bool = False  # attention: h̃_{t-1} joins the decoder input (Luong §3.3)
    bidirectional_encoder: bool = False  # encoder layer 0 reads both ways (H/2 units each)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings for `model.fit`."""

    epochs: float = positive(10.0)  # a fraction trains part of the last epoch (the paper: 7.5)
    batch_size: int = positive(64)  # sentences per batch, over all replicas
    optimizer: Optimizer = "adam"
    learning_rate: float = 0.002
    schedule: Schedule = "constant"  # "paper": halve every decay_every epochs ...
    decay_start_epoch: float = 5.0  # ... from this epoch on
    decay_every: float = 0.5
    clip_norm: float = 5.0  # g ← clip·g/‖g‖ when the global norm of the summed gradient exceeds it
    loss: LossKind = "token_mean"  # "sentence_sum": the paper (sum per sentence / batch)
    label_smoothing: float = 0.0
    checkpoint_every: int = positive(200)  # steps between checkpoints (a kill loses at most these)
    strategy: Strategy = "auto"  # "auto": multi-worker when TF_CONFIG names several workers
    precision: Precision = "auto"  # auto: bf16 where native, else fp32; softmax/loss fp32
    jit_compile: bool = False  # XLA-compile the train step (one compilation per batch shape)
    keep_epoch_weights: int = 5  # weights after each of the last N epochs, in epochs/ (averaging)
    average_last: int = 0  # >0: the final weights are the mean of the last N epochs' weights


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """Search settings; at most `max_len_a * source_length + max_len_b` target tokens."""

    beam_size: int = positive(5)  # the `translate` signature's beam (1 = greedy); paper: 12
    length_penalty: float = 0.0  # GNMT alpha; 0 is the paper's plain log-probability
    max_len_a: float = 1.5
    max_len_b: int = 10
    max_src_len: int = positive(200)  # longer inputs are cut to this many tokens (translating)
    replace_unk: bool = False  # attention: each output <unk> becomes the source word it attends


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run (saved as `config.yaml` in the run dir)."""

    seed: int = 1234
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
                "decode": DecodeConfig}
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
    _check_together(cfg)
    return cfg


def _check_together(cfg: Config) -> None:
    """Keys that only make sense together: the first broken rule is the error."""
    model, train, data = cfg.model, cfg.train, cfg.data
    rules = [
        (train.average_last > max(train.keep_epoch_weights, 0), "train.average_last", "averages "
         f"kept epoch weights: needs train.keep_epoch_weights >= {train.average_last}"),
        (cfg.decode.replace_unk and (model.attention == "none" or "sentencepiece" in (
            data.src_tokenizer, data.tgt_tokenizer)), "decode.replace_unk",
         "copies the attended source word in place of <unk> and needs model.attention and "
         f"word, space or char tokenizers; received: attention {model.attention}, "
         f"tokenizers {data.src_tokenizer}/{data.tgt_tokenizer}"),
        (model.input_feeding and model.attention == "none", "model.input_feeding",
         "feeds the attentional state back and needs model.attention (dot, general or "
         "concat); received: attention none"),
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
        preset: a name from `keras_s2s.presets.PRESETS`, or None for the defaults.
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
