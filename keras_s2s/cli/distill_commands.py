"""`keras-s2s distill`: a compact student trained on a teacher's translations (sequence-level
knowledge distillation), evaluated beside the teacher."""

from __future__ import annotations

import argparse
import sys

from keras_s2s.cli.parser import command, resolve_config, run_dir_flag
from keras_s2s.config.presets import PRESETS


def cmd_distill(args: argparse.Namespace) -> dict:
    """Translates the training sources with the teacher(s), trains the student on them and
    prints the teacher/student table on the test set."""
    if not (args.config or args.preset):
        raise ValueError("Name the student: --student-config FILE or --preset NAME (e.g. "
                         "phone-s, phone-xs, phone-xxs).")
    cfg = resolve_config(args)  # first: a config error needs no TensorFlow start-up
    from keras_s2s.distill.distill import distill

    results = distill(args.teacher, cfg, args.model_dir,
                      log=lambda text: print(text, file=sys.stderr))
    for row in results["test"] or []:
        print(f"{row['model']}: {row['parameters']:,} parameters, BLEU {row['bleu']:.2f}, "
              f"chrF {row['chrf']:.2f}, perplexity {row['perplexity']:.2f}")
    return results


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "distill", "train a compact student on a teacher's beam-search "
                "translations (sequence-level knowledge distillation)", cmd_distill)
    p.add_argument("--teacher", nargs="+", required=True,
                   help="the teacher's run directory; several = an ensemble")
    p.add_argument("--student-config", "--config", dest="config",
                   help="the student's YAML config (sizes, recipe, distill: section)")
    p.add_argument("--preset", help=f"the student's preset: {', '.join(PRESETS)}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one student config key, e.g. --set model.hidden_dim=128")
    p.add_argument("--epochs", type=float, help="shortcut for --set train.epochs=N")
    p.add_argument("--seed", type=int, help="shortcut for --set seed=N")
    p.add_argument("--src", help="the training sources to translate (default: the student "
                   "config's, else the teacher's data.train_src)")
    p.add_argument("--tgt", help="their original targets (distill.select=closest, "
                   "distill.mix_original and lines left with <unk> use them)")
    run_dir_flag(p)
