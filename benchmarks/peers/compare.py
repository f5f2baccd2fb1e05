"""keras_s2s against PyTorch and OpenNMT-tf on the same model and batches, measured in one
run, alternating (ours, each peer, ours, each peer, ...), so that a noisy shared machine
treats all alike. Prints a Markdown table and writes the figures as JSON.

    python benchmarks/peers/compare.py --peer torch=.venv-peers/torch/bin/python \\
        --peer opennmt=.venv-peers/opennmt/bin/python --rounds 2 --out bench_peers.json \\
        -- --preset small --src TRAIN.en --tgt TRAIN.fr --steps 200 --precision fp32 \\
        --set train.optimizer=sgd --set train.learning_rate=0.7

`--isa-cap AVX2` runs every system with oneDNN, MKL and PyTorch's kernels held to AVX2: on
an AVX-512 host, the kernels an AVX2-only host would run (not its clock or caches).

`--variant train.cpu_replicas=1` also measures keras_s2s with that setting, after its plain
run in each round (`make bench-peers` measures one replica beside the default, one per core
on a host without GPUs). Everything after `--` goes to `keras-s2s bench train`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from keras_s2s.train.precision import isa_cap_environment

HERE = Path(__file__).resolve().parent
SCRIPTS = {"torch": HERE / "torch_seq2seq.py", "opennmt": HERE / "opennmt_seq2seq.py"}


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def run(command: list[str]) -> dict:
    """Runs one measurement; its last output line is its JSON figures."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n"
                         + "\n".join(done.stderr.splitlines()[-15:]))
    return last_json(done.stdout)


def ours(bench_args: list[str], dump: Path) -> dict:
    figures = run([sys.executable, "-m", "keras_s2s.cli", "bench", "train", *bench_args,
                   "--dump-batches", str(dump), "--json"])
    replicas = figures.get("replicas", 1)  # train.cpu_replicas: one replica per core
    name = f"keras_s2s {figures['precision']}"
    if replicas > 1:
        name += f", {replicas} CPU replicas"
    return {"system": name, **figures}


def peer(name: str, python: str, dump: Path) -> dict:
    return run([python, str(SCRIPTS[name]), str(dump)])


def peer_pythons(specs: list[str]) -> dict[str, str]:
    """`NAME=PYTHON` pairs → {name: python}, NAME one of SCRIPTS."""
    pythons = {}
    for spec in specs:
        name, _, python = spec.partition("=")
        if name not in SCRIPTS or not python:
            raise SystemExit(f"--peer {spec!r}: expected NAME=PYTHON with NAME one of "
                             f"{', '.join(SCRIPTS)}")
        pythons[name] = python
    return pythons


def table(runs: list[dict], rate: tuple[str, str] = ("tgt_tokens_per_s", "target tokens/s"),
          other: tuple[str, str, str] = ("gflops", "useful GFLOP/s", ".1f")) -> str:
    """One row per system: the medians over its rounds of its `rate` (key, label) and of
    `other` (key, label, format), and how many times faster the first system (ours) is: in
    the medians, and in each round (a system's k-th run belongs to round k)."""
    systems: dict[str, list[dict]] = {}
    for run in runs:
        systems.setdefault(run["system"], []).append(run)
    medians = {name: statistics.median(r[rate[0]] for r in rs) for name, rs in systems.items()}
    first_name = next(iter(systems))
    first = medians[first_name]
    lines = [f"| system | {rate[1]} (median) | {other[1]} | keras_s2s ÷ this | each round |",
             "|---|---|---|---|---|"]
    for name, rs in systems.items():
        value = statistics.median(r[other[0]] for r in rs)
        rounds = ", ".join(f"{ours[rate[0]] / r[rate[0]]:.2f}"
                           for ours, r in zip(systems[first_name], rs))
        lines.append(f"| {name} | {medians[name]:,.1f} | {value:{other[2]}} | "
                     f"{first / medians[name]:.2f}× | {rounds} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON",
                        help=f"a peer ({', '.join(SCRIPTS)}) and the python of its venv")
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE",
                        help="also measure keras_s2s with `--set KEY=VALUE`, after the "
                             "plain run in each round (the ratios are against the plain run)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--isa-cap", help="hold every system's kernels to this ISA (AVX2)")
    parser.add_argument("--out", help="write every run's figures here (JSON)")
    args = parser.parse_args(argv[:split])
    bench_args = argv[split + 1:]
    pythons = peer_pythons(args.peer)
    if args.isa_cap:  # inherited by every system's process
        os.environ.update(isa_cap_environment(args.isa_cap))
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        dump = Path(scratch) / "batches.npz"
        for _ in range(args.rounds):  # ours first: it writes the batches the peers train on
            runs.append(ours(bench_args, dump))
            runs.extend(ours([*bench_args, "--set", setting], dump) for setting in args.variant)
            runs.extend(peer(name, python, dump) for name, python in pythons.items())
    print(table(runs))
    if args.out:
        Path(args.out).write_text(json.dumps(runs, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
