"""`keras-s2s export | export-tflite | serve`: both export formats take one route (load from
the run directories, write with `keras_s2s.export`), and the development server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_s2s.cli.decode_commands import decode_from_args, translator_from_args
from keras_s2s.cli.parser import (
    command,
    positive_int,
    replace_unk_flag,
    search_flags,
    served_model_flags,
)
from keras_s2s.constants import QUANTIZATIONS


def cmd_export(args: argparse.Namespace) -> dict:
    """Exports one run, or several as one ensemble, as a SavedModel for TF Serving."""
    from keras_s2s.export.saved_model import export_saved_model, write_server_configs

    base = args.base or str(Path(args.model_dir[0]) / "export")
    path = export_saved_model(translator_from_args(args), base, args.name, args.version)
    write_server_configs(base, args.name)
    print(f"exported {path} (and {base}/models.config, batching_parameters.txt)",
          file=sys.stderr)
    return {"export_dir": str(path)}


def cmd_export_tflite(args: argparse.Namespace) -> dict:
    """Converts a run (or an ensemble) to a builtins-only `.tflite` with its vocabularies."""
    from keras_s2s import runs
    from keras_s2s.export.tflite import export_tflite

    decoder = runs.load_tflite_decoder(args.model_dir, args.max_src_len, args.beam_size,
                                       args.tflite_batch, decode_from_args(args))
    figures = export_tflite(decoder, args.out, args.quantize)
    print(f"wrote {args.out} ({figures['bytes']:,} bytes) and {figures['metadata']}",
          file=sys.stderr)
    return figures


def cmd_serve(args: argparse.Namespace) -> dict:
    from serving.server import serve

    serve(args.base, args.name, args.host, args.port, args.rest_port, args.max_batch_size,
          args.log_level)
    return {"stopped": True}


def max_src_len_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-src-len", type=positive_int, default=50,
                        help="fixed source width in tokens (longer input: an error, or cut)")


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "export", "write a SavedModel in TF Serving's BASE/NAME/VERSION",
                cmd_export)
    search_flags(p, required=True)
    replace_unk_flag(p)
    p.add_argument("--base", help="export base folder (default: MODEL_DIR/export)")
    p.add_argument("--name", default="keras_s2s", help="model name under the base")
    p.add_argument("--version", type=positive_int, help="version number (default: the next "
                   "free one)")

    p = command(sub, "export-tflite", "a builtins-only .tflite (greedy + beam) for apps",
                cmd_export_tflite)
    search_flags(p, required=True)
    max_src_len_flag(p)
    p.add_argument("--out", required=True, help="the .tflite file (vocabularies + .json beside)")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                   help="post-training quantization: dynamic-range int8 weights, or float16")
    p.add_argument("--tflite-batch", type=positive_int, default=1,
                   help="sentences per call (fixed)")

    p = command(sub, "serve", "development/test stand-in for TF Serving (gRPC + REST)",
                cmd_serve)
    served_model_flags(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--rest-port", type=int, default=8501)
    p.add_argument("--max-batch-size", type=positive_int, default=64, help="1 disables batching")
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO",
                   help="INFO: one line per request batch; WARNING: errors only")
