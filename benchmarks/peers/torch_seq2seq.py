"""The peer measurement in PyTorch: the same seq2seq (no attention; embeddings, stacked
`nn.LSTM` encoder whose final (h, c) start the decoder, a vocabulary projection), trained on
exactly the batches `keras-s2s bench train --dump-batches F.npz` wrote, timed the same way.

Runs in its own virtual environment (`make bench-peers` makes it; torch is not a project
dependency). Prints one JSON line.

    python benchmarks/peers/torch_seq2seq.py batches.npz [--threads N]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
from torch import nn


class Seq2Seq(nn.Module):
    """Sutskever et al.'s model: encoder LSTM states initialise the decoder LSTM."""

    def __init__(self, src_vocab: int, tgt_vocab: int, emb: int, hidden: int, layers: int):
        super().__init__()
        self.src_embedding = nn.Embedding(src_vocab, emb, padding_idx=0)
        self.tgt_embedding = nn.Embedding(tgt_vocab, emb, padding_idx=0)
        self.encoder = nn.LSTM(emb, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(emb, hidden, layers, batch_first=True)
        self.projection = nn.Linear(hidden, tgt_vocab)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor):
        """`src [b, S]` (right-padded) and `tgt_in [b, T]` → logits `[b, T, V]`."""
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embedding(src), src_lengths,
                                                   batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)  # the states after each sentence's last real token
        out, _ = self.decoder(self.tgt_embedding(tgt_in), state)
        return self.projection(out)


def load(path: str) -> tuple[dict, list]:
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    count = meta["warmup"] + meta["steps"]
    batches = [tuple(torch.from_numpy(data[f"{name}_{i}"].astype(np.int64))
                     for name in ("src", "tgt_in", "tgt_out")) for i in range(count)]
    return meta, batches


def train_step(model, optimizer, loss_fn, batch, clip_norm: float) -> None:
    src, tgt_in, tgt_out = batch
    lengths = (src != 0).sum(dim=1).clamp(min=1)
    logits = model(src, lengths, tgt_in)
    loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)  # the global norm, as ours
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("batches")
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    meta, batches = load(args.batches)
    model = Seq2Seq(meta["src_vocab"], meta["tgt_vocab"], meta["embedding_dim"],
                    meta["hidden_dim"], meta["num_layers"])
    optimizer = (torch.optim.SGD(model.parameters(), lr=meta["learning_rate"])
                 if meta["optimizer"] == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=meta["learning_rate"]))
    loss_fn = nn.CrossEntropyLoss(ignore_index=0)  # the mean over real target tokens
    for batch in batches[:meta["warmup"]]:
        train_step(model, optimizer, loss_fn, batch, meta["clip_norm"])
    start = time.perf_counter()
    for batch in batches[meta["warmup"]:]:
        train_step(model, optimizer, loss_fn, batch, meta["clip_norm"])
    seconds = time.perf_counter() - start
    tokens = meta["timed_tgt_tokens"]
    print(json.dumps({
        "system": f"pytorch {torch.__version__} nn.LSTM fp32", "steps": meta["steps"],
        "seconds": round(seconds, 2), "tgt_tokens_per_s": round(tokens / seconds, 1),
        "gflops": round(meta["flops_per_tgt_token"] * tokens / seconds / 1e9, 1),
        "threads": torch.get_num_threads(), "onednn": torch.backends.mkldnn.is_available(),
        "python": platform.python_version()}))


if __name__ == "__main__":
    main()
