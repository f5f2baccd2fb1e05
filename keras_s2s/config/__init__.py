"""Frozen configuration: the sections (`sections`), presets (`presets`), and resolving YAML
files and `--set key=value` overrides into one checked `Config` (`resolve`)."""

from keras_s2s.config.presets import PRESETS
from keras_s2s.config.resolve import (
    can_replace_unk,
    choices_of,
    deep_update,
    from_dict,
    load_yaml,
    parse_override,
    resolve,
    save,
    validate,
)
from keras_s2s.config.sections import (
    AttentionKind,
    Config,
    ConfigError,
    DataConfig,
    DecodeConfig,
    DistillConfig,
    KeepBest,
    LossKind,
    LSTMKind,
    ModelConfig,
    OnBadLine,
    Optimizer,
    Precision,
    Schedule,
    Strategy,
    TokenizerKind,
    TrainConfig,
    positive,
)

__all__ = ["PRESETS", "AttentionKind", "Config", "ConfigError", "DataConfig", "DecodeConfig",
           "DistillConfig", "KeepBest", "LSTMKind", "LossKind", "ModelConfig", "OnBadLine",
           "Optimizer", "Precision", "Schedule", "Strategy", "TokenizerKind", "TrainConfig",
           "can_replace_unk", "choices_of", "deep_update", "from_dict", "load_yaml",
           "parse_override", "positive", "resolve", "save", "validate"]
