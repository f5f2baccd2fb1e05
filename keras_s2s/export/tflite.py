"""TFLite export with builtin ops only: ids in, greedy and beam-search ids out, static shapes."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from keras_s2s.config import DecodeConfig
from keras_s2s.constants import (
    BOS_ID,
    EOS_ID,
    OUTPUT_LOG_PROB,
    OUTPUT_LOG_PROBS,
    PAD_ID,
    QUANTIZATIONS,
    RESERVED_TOKENS,
    UNK_ID,
)
from keras_s2s.decode.beam_search import beam_search
from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.step import max_target_lengths

INPUT_IDS = "src_ids"
OUTPUT_IDS = "ids"
SIG_GREEDY, SIG_BEAM = "greedy", "beam"


class TFLiteDecoder(tf.Module):
    """The search of `keras_s2s.decode` over fixed-size buffers, for one or more sentences.

    Input `src_ids [batch, S]` int32: source token ids in reading order, right-padded with
    `<pad>`, no `</s>`. The module reverses them (if the model was trained so) and appends
    `</s>` exactly as the SavedModel does, so both decode the same way.

    Args:
        encode: `src_ids [b, S + 1] → states` built from explicit cell loops.
        step: `(tokens [b * k], states) → (log_probs [b * k, V], states)`.
        reverse_source: reverse the source, as in training.
        decode: length limits (`max_len_a`, `max_len_b`) and length penalty.
        max_src_len: S, the fixed input width.
        beam_size: the beam of the `beam` signature, fixed at export.
        batch: the fixed number of sentences per call.
        trackables: the Keras model, so its variables are found when saving.
        vocab_dir: the run directory whose vocabulary files go beside the `.tflite`.
        tokenizers: `{"src": kind, "tgt": kind}`, for the app's tokenizers.
    """

    def __init__(self, encode: Callable, step: Callable, reverse_source: bool,
                 decode: DecodeConfig, max_src_len: int, beam_size: int, batch: int = 1,
                 trackables: tuple = (), vocab_dir: str | Path | None = None,
                 tokenizers: dict[str, str] | None = None):
        super().__init__(name="tflite_decoder")
        self.trackables = list(trackables)
        self.vocab_dir, self.tokenizers = vocab_dir, dict(tokenizers or {})
        self._encode, self._step = encode, step
        self.reverse_source, self._decode = reverse_source, decode
        self.max_src_len, self.beam_size, self.batch = max_src_len, beam_size, batch
        self.max_tgt_len = math.ceil(decode.max_len_a * max_src_len) + decode.max_len_b
        spec = tf.TensorSpec([batch, max_src_len], tf.int32, name=INPUT_IDS)

        def greedy(src_ids):  # the function names become the TFLite signature keys
            return self._greedy(src_ids)

        def beam(src_ids):
            return self._beam(src_ids)
        self.greedy = tf.function(greedy, input_signature=[spec])
        self.beam = tf.function(beam, input_signature=[spec])

    @property
    def length_penalty(self) -> float:
        """The `beam` signature's GNMT alpha (0: the paper's plain log-probability)."""
        return self._decode.length_penalty

    def source_ids(self, ids: tf.Tensor) -> tf.Tensor:
        """`[b, S]` reading order → `[b, S + 1]` (reversed) tokens + `</s>`, then `<pad>`."""
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(ids, PAD_ID), tf.int32), axis=1)
        if self.reverse_source:
            ids = tf.reverse_sequence(ids, lengths, seq_axis=1, batch_axis=0)
        ids = tf.pad(ids, [[0, 0], [0, 1]])
        return ids + EOS_ID * tf.one_hot(lengths, self.max_src_len + 1, dtype=tf.int32)

    def _limits(self, src: tf.Tensor) -> tf.Tensor:
        limits = max_target_lengths(src, self._decode.max_len_a, self._decode.max_len_b)
        return tf.minimum(limits, self.max_tgt_len)  # never binds: S bounds the source

    def _greedy(self, src_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        """`[b, S]` → `{"ids": [b, L] int32, "log_prob": [b] float32}`."""
        src = self.source_ids(src_ids)
        hyps = greedy_search(self._encode, self._step, src, self._limits(src),
                             buffer_len=self.max_tgt_len)
        return {OUTPUT_IDS: hyps.ids[:, 0], OUTPUT_LOG_PROB: hyps.log_probs[:, 0]}

    def _beam(self, src_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        """`[b, S]` → `{"ids": [b, k, L], "scores": [b, k], "log_probs": [b, k]}`, best first."""
        src = self.source_ids(src_ids)
        hyps = beam_search(self._encode, self._step, src, self._limits(src), self.beam_size,
                           self.beam_size, self.length_penalty, buffer_len=self.max_tgt_len)
        return {OUTPUT_IDS: hyps.ids, "scores": hyps.scores, OUTPUT_LOG_PROBS: hyps.log_probs}


def _frozen(function: tf.types.experimental.PolymorphicFunction):
    """The function with every weight a constant, also those read inside loops (a phone has
    nothing to restore variables from, and the converter leaves loop-captured ones alone)."""
    concrete = function.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)

    @tf.function(input_signature=concrete.structured_input_signature[0])
    def named(src_ids):
        return tf.nest.pack_sequence_as(concrete.structured_outputs, frozen(src_ids))
    return named


def convert(decoder: TFLiteDecoder, quantize: str = "none") -> bytes:
    """Converts both signatures with TFLITE_BUILTINS only.

    Raises:
        ValueError: unknown `quantize`, or an op outside the builtins (the converter's
            message names it).
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}; received: {quantize!r}.")
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(tf.Module(), tmp, signatures={
            SIG_GREEDY: _frozen(decoder.greedy), SIG_BEAM: _frozen(decoder.beam)})
        converter = tf.lite.TFLiteConverter.from_saved_model(
            tmp, signature_keys=[SIG_GREEDY, SIG_BEAM])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        try:
            return converter.convert()
        except Exception as error:  # the converter raises its own ConverterError
            raise ValueError("TFLite conversion with builtin ops only failed (no Flex/Select "
                             f"TF ops are allowed): {error}") from error


def write_bundle(out: str | Path, flatbuffer: bytes, decoder: TFLiteDecoder,
                 run_dir: str | Path, tokenizers: dict[str, str], quantize: str) -> Path:
    """Writes `out` (.tflite), the run's vocabulary files and `<out>.json` beside it.

    Returns:
        The JSON path: what an app needs to tokenize, pad and read the outputs.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(flatbuffer)
    tmp.replace(out)
    files = {}
    for side in ("src", "tgt"):
        for name in (f"{side}.vocab", f"{side}.spm.model"):
            if (Path(run_dir) / name).is_file():
                shutil.copyfile(Path(run_dir) / name, out.parent / name)
                files[side] = name
    meta = {
        "model": out.name, "quantization": quantize, "bytes": len(flatbuffer),
        "signatures": {
            SIG_GREEDY: {"inputs": {INPUT_IDS: [decoder.batch, decoder.max_src_len]},
                         "outputs": {OUTPUT_IDS: "[batch, max_tgt_len]", OUTPUT_LOG_PROB:
                                     "[batch]"}},
            SIG_BEAM: {"inputs": {INPUT_IDS: [decoder.batch, decoder.max_src_len]},
                       "outputs": {OUTPUT_IDS: "[batch, beam_size, max_tgt_len]",
                                   "scores": "[batch, beam_size]",
                                   OUTPUT_LOG_PROBS: "[batch, beam_size]"}}},
        "max_src_len": decoder.max_src_len, "max_tgt_len": decoder.max_tgt_len,
        "beam_size": decoder.beam_size, "length_penalty": decoder.length_penalty,
        "batch": decoder.batch,
        "source_reversed_inside_model": decoder.reverse_source,
        "input": "source ids in reading order, right-padded with <pad> (0), without </s>; "
                 "a longer sentence must be cut to max_src_len by the caller",
        "output": "target ids up to the first </s>, then <pad>",
        "reserved_ids": {token: i for i, token in enumerate(RESERVED_TOKENS)},
        "pad_id": PAD_ID, "unk_id": UNK_ID, "bos_id": BOS_ID, "eos_id": EOS_ID,
        "tokenizers": tokenizers, "vocab_files": files,
    }
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return meta_path


def export_tflite(decoder: TFLiteDecoder, out: str | Path, quantize: str = "none") -> dict:
    """Converts `decoder` (builtins only) and writes `out`, the vocabularies and `<out>.json`.

    Returns:
        `{"tflite", "metadata", "bytes", "max_src_len", "max_tgt_len", "beam_size",
        "quantization"}`.
    """
    if decoder.vocab_dir is None:
        raise ValueError("The decoder names no vocab_dir: build it with "
                         "keras_s2s.runs.load_tflite_decoder.")
    flatbuffer = convert(decoder, quantize)
    meta = write_bundle(out, flatbuffer, decoder, decoder.vocab_dir, decoder.tokenizers,
                        quantize)
    return {"tflite": str(out), "metadata": str(meta), "bytes": len(flatbuffer),
            "max_src_len": decoder.max_src_len, "max_tgt_len": decoder.max_tgt_len,
            "beam_size": decoder.beam_size, "quantization": quantize}
