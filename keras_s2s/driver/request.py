"""Per-request decoding options as a client sends them: `SearchOptions` for
`translate_controlled` and `SampleOptions` for `translate_sample` (None = the model's own)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from keras_s2s.constants import (
    INPUT_COVERAGE_PENALTY,
    INPUT_LENGTH_PENALTY,
    INPUT_MAX_LEN_A,
    INPUT_MAX_LEN_B,
    INPUT_NUM_SAMPLES,
    INPUT_SEED,
    INPUT_TEMPERATURE,
    INPUT_TOP_K,
    INPUT_TOP_P,
)

DEFAULT = -1  # what the signatures read as "the export's own value"


class SearchOptions(NamedTuple):
    """Beam-search settings of one request; None keeps the model's configured value.

    length_penalty: GNMT α (0 = the paper's plain log-probability).
    max_len_a, max_len_b: at most `a * source tokens + b` output tokens.
    coverage_penalty: GNMT β, attention models only (0 = off).
    """

    length_penalty: float | None = None
    max_len_a: float | None = None
    max_len_b: int | None = None
    coverage_penalty: float | None = None

    def inputs(self) -> dict[str, np.ndarray]:
        """The matching `translate_controlled` inputs (negative = the model's own)."""
        for name in ("length_penalty", "max_len_a", "max_len_b", "coverage_penalty"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0; received: {value}.")

        def given(value, dtype):
            return dtype(DEFAULT if value is None else value)
        return {INPUT_LENGTH_PENALTY: given(self.length_penalty, np.float32),
                INPUT_MAX_LEN_A: given(self.max_len_a, np.float32),
                INPUT_MAX_LEN_B: given(self.max_len_b, np.int32),
                INPUT_COVERAGE_PENALTY: given(self.coverage_penalty, np.float32)}


class SampleOptions(NamedTuple):
    """Sampling settings of one request.

    num_samples: translations per sentence.
    temperature: 0 = greedy; above 1 flatter, below 1 sharper.
    top_k: sample among the k most probable tokens (0 = all).
    top_p: among the smallest set of most probable tokens reaching p (1 = all).
    seed: the same seed gives a sentence the same samples, in any batch.
    """

    num_samples: int = 1
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def inputs(self) -> dict[str, np.ndarray]:
        """The matching `translate_sample` inputs, checked first."""
        problems = [f"{name} {rule}; received: {getattr(self, name)}" for name, rule, bad in (
            ("num_samples", "must be >= 1", self.num_samples < 1),
            ("temperature", "must be >= 0", self.temperature < 0),
            ("top_k", "must be >= 0 (0 = all tokens)", self.top_k < 0),
            ("top_p", "must be in (0, 1]", not 0 < self.top_p <= 1)) if bad]
        if problems:
            raise ValueError("; ".join(problems) + ".")
        return {INPUT_NUM_SAMPLES: np.int32(self.num_samples),
                INPUT_TEMPERATURE: np.float32(self.temperature),
                INPUT_TOP_K: np.int32(self.top_k), INPUT_TOP_P: np.float32(self.top_p),
                INPUT_SEED: np.int64(self.seed)}
