"""Named presets: partial configs applied on top of the defaults (`--preset NAME`)."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {  # partial dicts applied on top of the defaults
    "default": {},
    # The built-in numbers → French words task: characters in, words out.
    "demo": {
        "data": {"src_tokenizer": "char", "tgt_tokenizer": "space", "max_src_len": 20,
                 "max_tgt_len": 20},
        "model": {"embedding_dim": 64, "hidden_dim": 256, "num_layers": 2},
        "train": {"epochs": 4, "batch_size": 64, "learning_rate": 0.003},
    },
    # Minutes-scale model for tests.
    "tiny": {
        "data": {"src_tokenizer": "char", "tgt_tokenizer": "space", "task_size": 2000,
                 "max_src_len": 20, "max_tgt_len": 20},
        "model": {"embedding_dim": 16, "hidden_dim": 32, "num_layers": 2},
        "train": {"epochs": 1, "batch_size": 32, "checkpoint_every": 20},
    },
    # The benchmark configuration: 256-d embeddings, 2 x 512 LSTMs per side, 8k vocabularies.
    "small": {
        "model": {"embedding_dim": 256, "hidden_dim": 512, "num_layers": 2},
        "data": {"src_vocab_size": 8000, "tgt_vocab_size": 8000},
        "train": {"batch_size": 64, "learning_rate": 0.001},
    },
    # Students for phones (`keras-s2s distill`): small embeddings and one or two layers of
    # 256, 128 or 64 units with attention, tied target embeddings; about 4.1M, 1.8M and
    # 1.1M parameters with 8k vocabularies.
    "phone-s": {
        "model": {"embedding_dim": 128, "hidden_dim": 256, "num_layers": 2,
                  "attention": "general", "tie_embeddings": True, "dropout": 0.2},
        "data": {"src_vocab_size": 8000, "tgt_vocab_size": 8000, "reverse_source": False},
        "train": {"batch_size": 64, "learning_rate": 0.002},
    },
    "phone-xs": {
        "model": {"embedding_dim": 96, "hidden_dim": 128, "num_layers": 1,
                  "attention": "general", "tie_embeddings": True, "dropout": 0.1},
        "data": {"src_vocab_size": 8000, "tgt_vocab_size": 8000, "reverse_source": False},
        "train": {"batch_size": 64, "learning_rate": 0.003},
    },
    "phone-xxs": {  # as measured in the README ("A model for your phone"), with warm-up
        "model": {"embedding_dim": 64, "hidden_dim": 64, "num_layers": 1,
                  "attention": "general", "tie_embeddings": True, "dropout": 0.1},
        "data": {"src_vocab_size": 8000, "tgt_vocab_size": 8000, "reverse_source": False},
        "train": {"batch_size": 64, "learning_rate": 0.003, "warmup_steps": 500},
    },
    # Sutskever et al. (2014): 4 x 1000 LSTMs, 1000-d embeddings, 160k/80k vocabularies.
    "paper": {
        "data": {"src_vocab_size": 160000, "tgt_vocab_size": 80000},
        "model": {"embedding_dim": 1000, "hidden_dim": 1000, "num_layers": 4, "init_scale": 0.08},
        "train": {"optimizer": "sgd", "learning_rate": 0.7, "batch_size": 128,
                  "loss": "sentence_sum", "clip_norm": 5.0, "epochs": 7.5, "schedule": "paper",
                  "precision": "fp32"},
    },
}
