"""The decoding peer in OpenNMT-tf 2.32 (TF 2.12): our trained weights in its model,
exported with its own `SavedModelExporter`, and its exported model timed on the same
sentences. Runs in its own virtual environment; `decode_compare.py` drives it.

    python benchmarks/peers/opennmt_decode.py export WEIGHTS_DIR EXPORT_DIR
    python benchmarks/peers/opennmt_decode.py time EXPORT_DIR SOURCES.txt --batch-size 32

`WEIGHTS_DIR` holds `weights.npz` (OpenNMT-tf's variable order, its id order), `meta.json`
(shapes and the beam width) and `src.vocab`/`tgt.vocab` in OpenNMT-tf's layout.
`SOURCES.txt` holds one sentence per line as the tokens the encoder reads, space-separated.
`time` prints one JSON line and writes the hypotheses beside the sources (`.hyp`).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from opennmt_seq2seq import build

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import opennmt  # noqa: E402
import tensorflow as tf  # noqa: E402


def export(weights_dir: str, export_dir: str) -> None:
    """Builds the model, assigns the weights in order (shapes checked), exports it."""
    with open(os.path.join(weights_dir, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    params = {"beam_width": meta["beam_size"], "length_penalty": meta["length_penalty"],
              "maximum_decoding_length": meta["max_len"]}
    model = build(meta, os.path.join(weights_dir, "src.vocab"),
                  os.path.join(weights_dir, "tgt.vocab"), params)
    model.create_variables()
    arrays = np.load(os.path.join(weights_dir, "weights.npz"))
    values = [arrays[f"w{i}"] for i in range(len(arrays.files))]
    if [tuple(v.shape) for v in model.variables] != [v.shape for v in values]:
        raise SystemExit("weights.npz does not match the model's variables: "
                         f"{[tuple(v.shape) for v in model.variables]} vs "
                         f"{[v.shape for v in values]}")
    for variable, value in zip(model.variables, values):
        variable.assign(value)
    model.export(export_dir)


def batches(lines: list[list[str]], batch_size: int):
    """Length-sorted batches of `(tokens [b, S] string, length [b] int32, indices)`."""
    order = sorted(range(len(lines)), key=lambda i: len(lines[i]))
    for start in range(0, len(order), batch_size):
        indices = order[start:start + batch_size]
        width = max(len(lines[i]) for i in indices)
        tokens = [lines[i] + [""] * (width - len(lines[i])) for i in indices]
        yield tf.constant(tokens), tf.constant([len(lines[i]) for i in indices]), indices


def time_decoding(export_dir: str, sources: str, batch_size: int) -> dict:
    """One timed pass over the sentences (after one untimed batch), hypotheses written."""
    translate = tf.saved_model.load(export_dir).signatures["serving_default"]
    with open(sources, encoding="utf-8") as f:
        lines = [line.split() for line in f.read().splitlines()]
    prepared = list(batches(lines, batch_size))
    translate(tokens=prepared[0][0], length=prepared[0][1])  # warm-up
    hypotheses: list[list[str]] = [[] for _ in lines]
    start = time.perf_counter()
    for tokens, length, indices in prepared:
        out = translate(tokens=tokens, length=length)
        best, lengths = out["tokens"][:, 0].numpy(), out["length"][:, 0].numpy()
        for row, index in enumerate(indices):
            hypotheses[index] = [t.decode() for t in best[row, :lengths[row]]]
    seconds = time.perf_counter() - start
    tokens = sum(len(h) + 1 for h in hypotheses)  # </s> included, as ours
    with open(sources + ".hyp", "w", encoding="utf-8") as f:
        f.write("\n".join(" ".join(h) for h in hypotheses) + "\n")
    return {"system": f"opennmt-tf {opennmt.__version__} (tf {tf.__version__}) SavedModel",
            "sentences": len(lines), "seconds": round(seconds, 2),
            "sent_per_s": round(len(lines) / seconds, 2),
            "hyp_tokens_per_s": round(tokens / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export")
    export_cmd.add_argument("weights_dir")
    export_cmd.add_argument("export_dir")
    time_cmd = commands.add_parser("time")
    time_cmd.add_argument("export_dir")
    time_cmd.add_argument("sources")
    time_cmd.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.command == "export":
        export(args.weights_dir, args.export_dir)
    else:
        print(json.dumps(time_decoding(args.export_dir, args.sources, args.batch_size)))


if __name__ == "__main__":
    main()
