"""The peer measurement in OpenNMT-tf 2.32 (TF 2.12): its own `SequenceToSequence` with an
`RNNEncoder` and an `RNNDecoder` (Keras 2 `LSTMCell`s, the encoder's final states copied
into the decoder, no attention, no dropout), trained on exactly the batches
`keras-s2s bench train --dump-batches F.npz` wrote, timed the same way.

The step is OpenNMT-tf's own: `model.compute_gradients` (its loss, normalised by its sample
size), the global-norm clip, `optimizer.apply_gradients`, in one `tf.function` whose input
signature leaves batch and length free, as its trainer does. Runs in its own virtual
environment (`make bench-peers` makes it). Prints one JSON line.

    python benchmarks/peers/opennmt_seq2seq.py batches.npz
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import opennmt  # noqa: E402
import tensorflow as tf  # noqa: E402


def vocabulary_file(directory: str, name: str, size: int) -> str:
    """A vocabulary of `size` ids: OpenNMT-tf adds one out-of-vocabulary bucket to the file."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(["<blank>", "<s>", "</s>"] + [f"w{i}" for i in range(size - 4)]))
        f.write("\n")
    return path


def build(meta: dict, source_vocabulary: str, target_vocabulary: str,
          params: dict | None = None) -> opennmt.models.SequenceToSequence:
    """The same shapes as ours: embeddings, 2 x LSTM encoder and decoder, projection."""
    layers, hidden, emb = meta["num_layers"], meta["hidden_dim"], meta["embedding_dim"]
    model = opennmt.models.SequenceToSequence(
        source_inputter=opennmt.inputters.WordEmbedder(embedding_size=emb),
        target_inputter=opennmt.inputters.WordEmbedder(embedding_size=emb),
        encoder=opennmt.encoders.RNNEncoder(layers, hidden, dropout=0.0),
        decoder=opennmt.decoders.RNNDecoder(layers, hidden, dropout=0.0,
                                            bridge_class=opennmt.layers.CopyBridge))
    model.initialize({"source_vocabulary": source_vocabulary,
                      "target_vocabulary": target_vocabulary}, params=params)
    return model


def load(path: str) -> tuple[dict, list]:
    """The dumped batches as OpenNMT-tf's (features, labels) dictionaries."""
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    batches = []
    for i in range(meta["warmup"] + meta["steps"]):
        src, tgt_in, tgt_out = (data[f"{name}_{i}"].astype(np.int64)
                                for name in ("src", "tgt_in", "tgt_out"))
        features = {"ids": src, "length": np.maximum((src != 0).sum(1), 1).astype(np.int32)}
        labels = {"ids": tgt_in, "ids_out": tgt_out,
                  "length": (tgt_out != 0).sum(1).astype(np.int32)}
        batches.append(tf.nest.map_structure(tf.constant, (features, labels)))
    return meta, batches


def train_step_fn(model, optimizer, clip_norm: float, spec):
    @tf.function(input_signature=spec)
    def step(features, labels):
        loss, gradients = model.compute_gradients(features, labels, optimizer)[:2]
        gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("batches")
    args = parser.parse_args()
    tf.random.set_seed(0)
    meta, batches = load(args.batches)
    scratch = tempfile.TemporaryDirectory()  # the vocabularies, read when tables build
    model = build(meta, vocabulary_file(scratch.name, "src.vocab", meta["src_vocab"]),
                  vocabulary_file(scratch.name, "tgt.vocab", meta["tgt_vocab"]))
    optimizer = (tf.keras.optimizers.SGD(meta["learning_rate"]) if meta["optimizer"] == "sgd"
                 else tf.keras.optimizers.Adam(meta["learning_rate"]))
    spec = tf.nest.map_structure(
        lambda t: tf.TensorSpec([None] * t.shape.rank, t.dtype), batches[0])
    step = train_step_fn(model, optimizer, meta["clip_norm"], spec)
    for features, labels in batches[:meta["warmup"]]:
        step(features, labels)
    start = time.perf_counter()
    for features, labels in batches[meta["warmup"]:]:
        loss = step(features, labels)
    float(loss)  # the last step has finished
    seconds = time.perf_counter() - start
    tokens = meta["timed_tgt_tokens"]
    print(json.dumps({
        "system": f"opennmt-tf {opennmt.__version__} (tf {tf.__version__}) fp32",
        "steps": meta["steps"], "seconds": round(seconds, 2),
        "tgt_tokens_per_s": round(tokens / seconds, 1),
        "gflops": round(meta["flops_per_tgt_token"] * tokens / seconds / 1e9, 1),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "python": platform.python_version()}))


if __name__ == "__main__":
    main()
