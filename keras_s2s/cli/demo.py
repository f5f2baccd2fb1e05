"""`keras-s2s demo`: built-in task → train → evaluate → export → reload in a new process →
serve over gRPC."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from keras_s2s.cli.parser import command, config_flags, resolve_config, run_dir_flag

EXPORT_NAME = "numbers_fr"


def _say(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def translate_in_new_process(export_dir: Path, texts: list[str]) -> list[str]:
    """Runs `keras-s2s translate --saved-model` in a fresh Python process over `texts`."""
    result = subprocess.run(
        [sys.executable, "-m", "keras_s2s.cli", "translate", "--saved-model", str(export_dir)],
        input="\n".join(texts) + "\n", capture_output=True, text=True, encoding="utf-8",
        check=False)
    if result.returncode != 0:
        raise RuntimeError(f"Reloading {export_dir} in a new process failed:\n{result.stderr}")
    return result.stdout.splitlines()


def serve_and_query(base: Path, name: str, texts: list[str], batch: int = 50) -> list[str]:
    """Starts the local development server on a free loopback port and translates over gRPC."""
    from keras_s2s.driver import Driver, ServerBackend
    from serving.server import Server

    server = Server(str(base), name, port=0, rest_port=None)
    backend = ServerBackend(f"127.0.0.1:{server.port}", name)
    try:
        return Driver(backend, batch).translate(texts)[0]
    finally:
        backend.close()
        server.stop()


def run_demo(cfg, model_dir: str | Path) -> dict:
    """Runs the whole slice on the built-in task and returns the figures.

    The run directory is started afresh, so the demo always shows a full training run.

    Returns:
        `{"exact_match", "bleu", "bleu_signature", "chrf", "export_dir",
        "reload_agreement", "seconds", ...}`.
    """
    from keras_s2s import runs, training
    from keras_s2s.driver import Driver, TranslatorBackend
    from keras_s2s.evaluation.metrics import corpus_scores, format_scores
    from keras_s2s.export.saved_model import export_saved_model

    start = time.time()
    model_dir = Path(model_dir)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    splits = training.builtin_splits(cfg)
    _say(f"task {cfg.data.task}: {len(splits.train)} train / {len(splits.valid)} valid / "
         f"{len(splits.test)} test pairs, e.g. {splits.train[0][0]!r} → {splits.train[0][1]!r}")
    _say(f"training {cfg.model.num_layers}x{cfg.model.hidden_dim} LSTMs for "
         f"{cfg.train.epochs} epochs into {model_dir}")
    training.train(cfg, model_dir)

    translator = runs.load_translator(model_dir)
    sources = [s for s, _ in splits.test]
    refs = [t for _, t in splits.test]
    hyps, _ = Driver(TranslatorBackend(translator)).translate(sources)
    scores = corpus_scores(hyps, refs)
    _say(f"held-out test split (beam {cfg.decode.beam_size}):\n" + format_scores(scores))

    export_dir = export_saved_model(translator, model_dir / "export", EXPORT_NAME)
    _say(f"exported SavedModel to {export_dir}; reloading it in a new process")
    reloaded = translate_in_new_process(export_dir, sources)
    agreement = sum(a == b for a, b in zip(reloaded, hyps)) / len(hyps)
    for src, out, ref in list(zip(sources, reloaded, refs))[:5]:
        _say(f"  {src!r} → {out!r}  (reference {ref!r})")
    served = serve_and_query(export_dir.parent.parent, EXPORT_NAME, sources)
    grpc_agreement = sum(a == b for a, b in zip(served, hyps)) / len(hyps)
    _say(f"local TF-Serving-API server over gRPC: {len(served)} sentences, "
         f"agreement with in-process {grpc_agreement:.4f}")
    return {
        "exact_match": scores["exact_match"], "bleu": scores["bleu"],
        "bleu_signature": scores["bleu_signature"], "chrf": scores["chrf"],
        "test_sentences": len(sources), "export_dir": str(export_dir),
        "reload_agreement": round(agreement, 4), "served_over_grpc": len(served) == len(hyps),
        "grpc_agreement": round(grpc_agreement, 4), "epochs": cfg.train.epochs,
        "seconds": round(time.time() - start, 1),
    }


def cmd_demo(args: argparse.Namespace) -> dict:
    return run_demo(resolve_config(args), args.model_dir or "runs/demo")


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "demo", "built-in task: train, evaluate, export, reload, translate",
                cmd_demo)
    config_flags(p)
    run_dir_flag(p, required=False)
