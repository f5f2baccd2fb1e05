"""Beam decoding from exported models: our SavedModel against OpenNMT-tf's, with the same
trained weights, on the same sentences, in one run, alternating (ours, peer, ours, peer).

Our run's weights go into OpenNMT-tf's own model (`opennmt_decode.py export`, in its venv),
so both search the same model: the hypotheses agree, and hypothesis tokens/s compare the
decoders alone. Prints a Markdown table and writes the figures as JSON.

    python benchmarks/peers/decode_compare.py --model-dir runs/m30k \\
        --src ../shared/data/multi30k/test_2016_flickr.en.gz \\
        --opennmt-python .venv-peers/opennmt/bin/python --beam-size 5 --batch-size 32

`--isa-cap AVX2` holds both to AVX2 kernels, as in `compare.py`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import get_args

import numpy as np
from compare import table  # benchmarks/peers/compare.py, beside this script

from keras_s2s import runs
from keras_s2s.bench.decode import sentences_per_s
from keras_s2s.bench.host import host_info
from keras_s2s.config import Precision
from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from keras_s2s.data.corpus import iter_lines
from keras_s2s.driver import Driver, SavedModelBackend
from keras_s2s.export.saved_model import export_saved_model
from keras_s2s.train.precision import choose_precision, isa_cap_environment

HERE = Path(__file__).resolve().parent
OPENNMT_SPECIALS = ["<blank>", "<s>", "</s>"]  # its ids 0, 1, 2; out-of-vocabulary is last
WEIGHT_ORDER = [  # OpenNMT-tf's variable order, in our layer names
    "encoder_embedding/embeddings", "decoder_embedding/embeddings",
    *(f"encoder_lstm_{i}/{w}" for i in (0, 1) for w in ("kernel", "recurrent_kernel", "bias")),
    *(f"decoder_lstm_{i}/{w}" for i in (0, 1) for w in ("kernel", "recurrent_kernel", "bias")),
    "output_projection/kernel", "output_projection/bias"]


def opennmt_order(vocab_size: int) -> np.ndarray:
    """OpenNMT-tf id → our id: pad, <s>, </s>, the words in our order, then `<unk>` last."""
    specials = {PAD_ID, UNK_ID, BOS_ID, EOS_ID}
    return np.array([PAD_ID, BOS_ID, EOS_ID]
                    + [i for i in range(vocab_size) if i not in specials] + [UNK_ID])


def vocabularies(model_dir: str | Path) -> dict[str, list[str]]:
    """Our run's `{"src": words, "tgt": words}`, in id order."""
    return {side: Path(model_dir, f"{side}.vocab").read_text("utf-8").splitlines()
            for side in ("src", "tgt")}


def write_weights(translator, cfg, vocabs: dict[str, list[str]], out: Path, beam_size: int,
                  max_len: int) -> None:
    """Writes `opennmt_decode.py export`'s input from the Translator's (single) model."""
    if cfg.model.attention != "none" or cfg.model.tie_embeddings or cfg.model.num_layers != 2:
        raise SystemExit("the OpenNMT-tf peer model is the paper's: 2 layers, no attention, "
                         "untied embeddings")
    weights = {w.path: np.asarray(w) for w in translator.trackables[0].weights}
    arrays = []
    for name in WEIGHT_ORDER:
        value = weights[name]
        if name.endswith("embeddings"):
            side = "src" if name.startswith("encoder") else "tgt"
            value = value[opennmt_order(len(vocabs[side]))]
        elif name.startswith("output_projection"):
            value = value[..., opennmt_order(len(vocabs["tgt"]))]
        arrays.append(value)
    np.savez(out / "weights.npz", **{f"w{i}": a for i, a in enumerate(arrays)})
    for side, words in vocabs.items():  # the words, then its out-of-vocabulary bucket
        (out / f"{side}.vocab").write_text(
            "\n".join(OPENNMT_SPECIALS + [words[i] for i in opennmt_order(len(words))[3:-1]])
            + "\n", encoding="utf-8")
    meta = {"num_layers": 2, "hidden_dim": cfg.model.hidden_dim, "beam_size": beam_size,
            "embedding_dim": cfg.model.embedding_dim, "max_len": max_len,
            "length_penalty": cfg.decode.length_penalty,
            "src_vocab": len(vocabs["src"]), "tgt_vocab": len(vocabs["tgt"])}
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def encoder_tokens(translator, texts: list[str], vocab: list[str]) -> list[list[str]]:
    """What our encoder reads (cut, reversed, `</s>`), as OpenNMT-tf source tokens."""
    names = {EOS_ID: "</s>", UNK_ID: "<unk>"}  # "<unk>" is not in its file: the OOV bucket
    ids = translator.source_ids(np.array(texts, dtype=object)).numpy()
    return [[names.get(i, vocab[i]) for i in row if i != PAD_ID] for row in ids]


def ours(driver: Driver, translator, texts: list[str], beam_size: int) -> dict:
    """One timed pass of our SavedModel's beam search (after one untimed batch)."""
    rate, outputs = sentences_per_s(lambda t: driver.translate(t, beam_size)[0], texts,
                                    texts[:driver.batch_size])
    pieces = translator.tgt_tokenizer.pieces(np.array(outputs, dtype=object)).to_list()
    hypotheses = [[p.decode() for p in row] for row in pieces]
    tokens = sum(len(h) + 1 for h in hypotheses)  # </s> included
    return {"system": "keras_s2s SavedModel", "sentences": len(texts),
            "seconds": round(len(texts) / rate, 2), "sent_per_s": round(rate, 2),
            "hyp_tokens_per_s": round(rate * tokens / len(texts), 1),
            "hypotheses": hypotheses}


def peer(python: str, export_dir: Path, sources: Path, batch_size: int) -> dict:
    out = subprocess.run([python, str(HERE / "opennmt_decode.py"), "time", str(export_dir),
                          str(sources), "--batch-size", str(batch_size)], check=True,
                         capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    hyps = Path(str(sources) + ".hyp").read_text("utf-8").splitlines()
    return {**figures, "hypotheses": [line.split() for line in hyps]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True, help="a trained no-attention run")
    parser.add_argument("--src", required=True, help="sentences to translate")
    parser.add_argument("--opennmt-python", required=True, help="python of the OpenNMT-tf venv")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="the first N sentences (0: all)")
    parser.add_argument("--isa-cap", help="hold both systems' kernels to this ISA (AVX2)")
    parser.add_argument("--precision", default="fp32", choices=get_args(Precision),
                        help="our search's arithmetic (decode.precision); the peer's is fp32")
    parser.add_argument("--out", help="write the figures here (JSON)")
    args = parser.parse_args(argv)
    if args.isa_cap:  # read by oneDNN at its first kernel, and inherited by the peer
        os.environ.update(isa_cap_environment(args.isa_cap))
    texts = list(iter_lines(args.src))[:args.limit or None]
    cfg, vocabs = runs.load_config(args.model_dir), vocabularies(args.model_dir)
    translator = runs.load_translator([args.model_dir],
                                      dataclasses.replace(cfg.decode, precision=args.precision))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sources = scratch / "sources.txt"
        lines = encoder_tokens(translator, texts, vocabs["src"])
        sources.write_text("\n".join(" ".join(line) for line in lines) + "\n", "utf-8")
        max_len = math.ceil(cfg.decode.max_len_a * max(map(len, lines)) + cfg.decode.max_len_b)
        write_weights(translator, cfg, vocabs, scratch, args.beam_size, max_len)
        subprocess.run([args.opennmt_python, str(HERE / "opennmt_decode.py"), "export",
                        str(scratch), str(scratch / "opennmt")], check=True, capture_output=True)
        driver = Driver(SavedModelBackend(export_saved_model(translator, scratch, "ours")),
                        args.batch_size)
        results = []
        for _ in range(args.rounds):
            results.append(ours(driver, translator, texts, args.beam_size))
            results.append(peer(args.opennmt_python, scratch / "opennmt", sources,
                                args.batch_size))
    same = sum(a == b for a, b in zip(results[0]["hypotheses"], results[1]["hypotheses"]))
    for result in results:
        del result["hypotheses"]
    print(table(results, ("hyp_tokens_per_s", "hypothesis tokens/s"),
                ("sent_per_s", "sentences/s", ".2f")))
    print(f"\nthe same 1-best hypothesis for {same} of {len(texts)} sentences; "
          f"beam {args.beam_size}, batch {args.batch_size}")
    if args.out:
        Path(args.out).write_text(json.dumps(
            {"runs": results, "same_hypotheses": same, "sentences": len(texts),
             "beam_size": args.beam_size, "batch_size": args.batch_size,
             "precision": choose_precision(args.precision).precision, "host": host_info()},
            indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
