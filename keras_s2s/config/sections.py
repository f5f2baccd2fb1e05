"""The config's sections: frozen dataclasses, every key commented, and its allowed values."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

# The allowed values of every choice key, each listed once: `validate` checks the config
# against them and the CLI builds its `choices=` from them (`typing.get_args`).
TokenizerKind = Literal["word", "space", "char", "sentencepiece"]
OnBadLine = Literal["error", "skip"]
LSTMKind = Literal["fast", "keras"]
AttentionKind = Literal["none", "dot", "general", "concat"]
Optimizer = Literal["adam", "sgd"]
LossKind = Literal["token_mean", "sentence_sum"]
Schedule = Literal["constant", "paper", "plateau"]
KeepBest = Literal["perplexity", "bleu"]
Strategy = Literal["auto", "mirrored", "multi-worker", "one-device"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
# What a distilled line is: the teacher's 1-best (Seq-KD), or of its beam's n-best the one
# closest to the original target by sentence BLEU (Seq-Inter; Kim & Rush 2016)
DistillSelect = Literal["best", "closest"]


def positive(default: int | float) -> Any:
    """A numeric field that must be > 0 (checked by `validate`, next to the field)."""
    return dataclasses.field(default=default, metadata={"positive": True})


def auto_or_positive() -> Any:
    """A count that is "auto" (chosen at run time from the host) or a whole number > 0."""
    return dataclasses.field(default="auto", metadata={"auto_or_positive": True})


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
    word_dropout: float = 0.0  # training: each input token becomes <unk> with this probability
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
    tie_embeddings: bool = False  # one target matrix embeds tokens and scores outputs
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
    # "plateau": halve when the keep_best metric has not improved for plateau_patience epochs
    plateau_patience: int = positive(1)
    min_learning_rate: float = 1e-5  # the plateau schedule's floor
    warmup_steps: int = 0  # >0: every schedule's rate rises linearly over the first N steps
    clip_norm: float = 5.0  # g ← clip·g/‖g‖ when the global norm of the summed gradient exceeds it
    loss: LossKind = "token_mean"  # "sentence_sum": the paper (sum per sentence / batch)
    label_smoothing: float = 0.0
    checkpoint_every: int = positive(200)  # steps between checkpoints (a kill loses at most these)
    strategy: Strategy = "auto"  # "auto": multi-worker when TF_CONFIG names several workers
    # >1 on a host without GPUs: the CPU as that many logical devices, one data-parallel
    # replica each, every op on one thread (set before TensorFlow starts; docs/performance.md).
    # "auto": one per core when there is no GPU and each keeps >= 32 sentences of the batch
    cpu_replicas: int | Literal["auto"] = auto_or_positive()
    precision: Precision = "auto"  # auto: bf16 where native, else fp32; softmax/loss fp32
    jit_compile: bool = False  # XLA-compile the train step (one compilation per batch shape)
    keep_epoch_weights: int = 5  # weights after each of the last N epochs, in epochs/ (averaging)
    average_last: int = 0  # >0: the final weights are the mean of the last N epochs' weights
    validate_bleu: bool = False  # decode the validation set after each epoch: val_bleu
    validate_beam: int = positive(1)  # its search: 1 greedy, k a beam of k
    keep_best: KeepBest = "perplexity"  # which validation metric picks best.weights.h5
    early_stopping_patience: int = 0  # >0: stop after N epochs without a better keep_best


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """Search settings; at most `max_len_a * source_length + max_len_b` target tokens."""

    beam_size: int = positive(5)  # the `translate` signature's beam (1 = greedy); paper: 12
    length_penalty: float = 0.0  # GNMT alpha; 0 is the paper's plain log-probability
    max_len_a: float = 1.5
    max_len_b: int = 10
    coverage_penalty: float = 0.0  # GNMT beta (attention models): favour covering the source
    max_src_len: int = positive(200)  # longer inputs are cut to this many tokens (translating)
    replace_unk: bool = False  # attention: each output <unk> becomes the source word it attends
    # the search's arithmetic: bf16 matmuls are faster where the CPU has native bf16 (auto
    # picks them there); fp32 is exact and what the TFLite export computes in
    precision: Precision = "fp32"


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """Sequence-level knowledge distillation (`keras-s2s distill`): the student learns the
    teacher's beam-search translations of the training sources."""

    beam_size: int = positive(5)  # the teacher's beam when translating the training sources
    shard_lines: int = positive(2000)  # source lines per shard (a rerun skips finished shards)
    mix_original: bool = False  # train on the distilled and the original targets together
    precision: Precision = "fp32"  # the teacher's search arithmetic (auto: bf16 where native)
    # each <unk> the teacher writes becomes the source word it attends to (attention teachers
    # with word/space/char tokenizers); a line that still holds <unk> keeps its original target
    replace_unk: bool = True
    select: DistillSelect = "best"  # best: the beam's 1-best; closest: nearest the reference


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run (saved as `config.yaml` in the run dir)."""

    seed: int = 1234
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()
    distill: DistillConfig = DistillConfig()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
