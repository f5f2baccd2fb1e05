"""Peak memory of an exported `.tflite` in `ai-edge-litert`, as an app would see it.

    python -m serving.tflite_memory model.tflite sentences.txt [--limit 100]

Runs in a fresh process that imports only the interpreter, numpy and the plain-Python
tokenizers (no TensorFlow): after those imports it resets the kernel's peak-RSS counter
(`/proc/self/clear_refs`), notes the resident set, then loads the model, translates every
sentence greedily and with beam search at batch 1, and reads the peak again. The difference
is what the interpreter, the model file's touched pages and its tensor arena added at their
peak. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

_MB = 1024.0  # /proc/self/status counts kB


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def measure(model_path: str | Path, texts: list[str]) -> dict:
    """Loads the model, translates `texts` (greedy, then beam, one at a time) and reports the
    resident-set growth at its peak.

    Returns:
        `{"baseline_rss_mb", "peak_rss_mb", "interpreter_peak_mb", "sentences"}`.

    Raises:
        OSError: not Linux (no `/proc/self/clear_refs` to reset the peak).
    """
    from serving.tflite_translate import TFLiteTranslator

    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    baseline = _status_kb("VmRSS")
    translator = TFLiteTranslator(model_path, truncate=True)
    for beam in (False, True):
        for text in texts:
            translator.translate([text], beam)
    peak = _status_kb("VmHWM")
    return {"baseline_rss_mb": round(baseline / _MB, 1), "peak_rss_mb": round(peak / _MB, 1),
            "interpreter_peak_mb": round((peak - baseline) / _MB, 1), "sentences": len(texts)}


def measure_in_subprocess(model_path: str | Path, texts_path: str | Path,
                          limit: int = 100) -> dict:
    """`measure` in a fresh Python process (so nothing this process holds is counted).

    Raises:
        RuntimeError: the child failed; its stderr is in the message.
    """
    done = subprocess.run([sys.executable, "-m", "serving.tflite_memory", str(model_path),
                           str(texts_path), "--limit", str(limit)],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {model_path} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the .tflite file (its .json and vocabularies beside it)")
    parser.add_argument("texts", help="sentences, one per line (UTF-8)")
    parser.add_argument("--limit", type=int, default=100, help="use the first N sentences")
    args = parser.parse_args(argv)
    lines = Path(args.texts).read_text(encoding="utf-8").splitlines()[:args.limit]
    try:
        print(json.dumps(measure(args.model, lines)))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
