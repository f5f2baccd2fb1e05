"""`keras-s2s bench tflite`: size, speed and BLEU of the TFLite variants against the SavedModel."""

from __future__ import annotations

import sys
from pathlib import Path

from keras_s2s import runs
from keras_s2s.bench.decode import sentences_per_s
from keras_s2s.constants import QUANTIZATIONS
from keras_s2s.driver import Driver, SavedModelBackend
from keras_s2s.evaluation.metrics import bleu, bleu_signature
from keras_s2s.export.tflite import export_tflite

MEMORY_SENTENCES = 100  # the interpreter's peak memory is measured over these


def _saved_model_outputs(model_dir: str, beam_size: int, texts: list[str], scratch: Path
                         ) -> dict[str, tuple[list[str], float]]:
    """Greedy and beam translations (and sentences/s, one at a time) of the run's reloaded
    SavedModel."""
    from keras_s2s.export.saved_model import export_saved_model

    path = export_saved_model(runs.load_translator(model_dir), scratch / "saved_model", "bench")
    driver = Driver(SavedModelBackend(path), batch_size=1)  # one at a time, as an app calls
    out = {}
    for name, beam in (("greedy", 1), ("beam", beam_size)):
        rate, hyps = sentences_per_s(lambda t: driver.translate(t, beam)[0], texts, texts[:1])
        out[name] = (hyps, rate)
    return out


def bench_tflite(model_dir: str, src_path: str, ref_path: str, beam_size: int,
                 max_src_len: int, limit: int, scratch: str) -> dict:
    """Exports the run as fp32, dynamic-range int8 and float16 `.tflite` files and compares
    each with the SavedModel, sentence by sentence (batch 1, as an app calls it).

    Returns:
        JSON figures: per variant `bytes`, `greedy_sent_per_s`, `beam_sent_per_s`,
        `greedy_bleu`, `beam_bleu`, the share of sentences whose output equals the
        SavedModel's (`greedy_agreement`, `beam_agreement`) and the interpreter's peak
        memory in a fresh process (`interpreter_peak_mb`, over the first
        `MEMORY_SENTENCES`); the SavedModel's own figures.
    """
    from keras_s2s.data.corpus import iter_lines
    from serving.tflite_memory import measure_in_subprocess
    from serving.tflite_translate import TFLiteTranslator

    texts = list(iter_lines(src_path))[:limit]
    refs = list(iter_lines(ref_path))[:limit]
    scratch_dir = Path(scratch)
    texts_file = scratch_dir / "sources.txt"
    texts_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    saved = _saved_model_outputs(model_dir, beam_size, texts, scratch_dir)
    figures: dict = {"sentences": len(texts), "beam_size": beam_size,
                     "max_src_len": max_src_len}
    figures["saved_model"] = {}
    for name, (hyps, rate) in saved.items():
        figures["saved_model"].update({f"{name}_bleu": bleu(hyps, refs),
                                       f"{name}_sent_per_s": round(rate, 2)})
    for quantize in QUANTIZATIONS:
        out = scratch_dir / quantize / "model.tflite"
        exported = export_tflite(runs.load_tflite_decoder(model_dir, max_src_len, beam_size),
                                 out, quantize)
        lite = TFLiteTranslator(out, truncate=True)
        row = {"bytes": exported["bytes"]}
        for name, beam in (("greedy", False), ("beam", True)):
            rate, hyps = sentences_per_s(
                lambda t: [lite.translate([text], beam)[0] for text in t], texts, texts[:1])
            same = sum(a == b for a, b in zip(hyps, saved[name][0])) / len(texts)
            row.update({f"{name}_bleu": bleu(hyps, refs),
                        f"{name}_sent_per_s": round(rate, 2),
                        f"{name}_agreement": round(same, 4)})
        row["interpreter_peak_mb"] = measure_in_subprocess(
            out, texts_file, MEMORY_SENTENCES)["interpreter_peak_mb"]
        figures[quantize] = row
        print(f"{quantize}: {row}", file=sys.stderr)
    figures["truncated"] = sum(len(lite.src.encode(t)) > max_src_len for t in texts)
    figures["bleu_signature"] = bleu_signature()
    return figures
