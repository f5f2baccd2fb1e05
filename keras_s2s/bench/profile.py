"""`bench train --profile DIR`: the TF profiler over the timed steps, and where their time went.

The profiler writes an XSpace (`DIR/plugins/profile/<run>/<host>.xplane.pb`, which
TensorBoard's profile plugin also reads). `op_times` sums, per op type, the time the TF
executor's compute threads spent in each op (`MatMul` under oneDNN shows as `_MklMatMul`):
the table that says whether a step is matmul-bound or lost in small ops. Durations are wall
time per op, so ops that overlap on the two inter-op threads both count in full.
"""

from __future__ import annotations

import collections
from pathlib import Path

import keras
import tensorflow as tf

COMPUTE_THREADS = "tf_Compute"  # the executor's inter-op threads; an op event is "name:Type"


class ProfileSteps(keras.callbacks.Callback):
    """Runs the TF profiler from batch `first` to the end of training, writing to `logdir`."""

    def __init__(self, logdir: str | Path, first: int):
        super().__init__()
        self.logdir, self.first, self.running = str(logdir), first, False

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.first and not self.running:
            tf.profiler.experimental.start(self.logdir)
            self.running = True

    def on_train_end(self, logs=None):
        if self.running:
            tf.profiler.experimental.stop()
            self.running = False


def newest_xspace(logdir: str | Path) -> Path:
    """The `.xplane.pb` the last profile in `logdir` wrote."""
    found = sorted(Path(logdir).glob("plugins/profile/*/*.xplane.pb"),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no profile (plugins/profile/*/*.xplane.pb) in {logdir}")
    return found[-1]


def op_times(logdir: str | Path, steps: int, top: int = 15) -> list[dict]:
    """Time per op type over the profiled steps, largest first.

    Args:
        logdir: the profiler's log directory.
        steps: how many steps the profile covers (for the per-step figure).
        top: how many op types to list; the rest are summed as "other".

    Returns:
        `[{"op": type, "ms_per_step": float, "share": fraction of all op time}, ...]`.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(newest_xspace(logdir).read_bytes())
    totals: collections.Counter = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith(COMPUTE_THREADS):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name:  # "scope/op_name:OpType"; other events are the runtime's
                    totals[name.rsplit(":", 1)[1]] += event.duration_ps / 1e9  # ms
    whole = sum(totals.values()) or 1.0
    ranked = totals.most_common()
    rows = ranked[:top] + ([("other", sum(ms for _, ms in ranked[top:]))] if ranked[top:] else [])
    return [{"op": op, "ms_per_step": round(ms / steps, 2), "share": round(ms / whole, 4)}
            for op, ms in rows]
