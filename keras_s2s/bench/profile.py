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

from keras_s2s.model.seq2seq import MODEL_NAME

COMPUTE_THREADS = "tf_Compute"  # the executor's inter-op threads; an op event is "name:Type"
# The untied output projection's layer and the loss (a tied projection runs inside the
# decoder embedding, and counts under "rest").
PROJECTION_SCOPES = ("output_projection", "compile_loss")


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


def _op_events(logdir: str | Path) -> list[tuple[int, int, str, str]]:
    """`(start_ps, end_ps, op type, op name)` of every op the executor's compute threads ran
    (the enclosing `Process` event of a function call left out: it spans its ops)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(newest_xspace(logdir).read_bytes())
    events = []
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith(COMPUTE_THREADS):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and not name.endswith(":Process"):  # "scope/op_name:OpType"
                    start = line.timestamp_ns * 1000 + event.offset_ps
                    events.append((start, start + event.duration_ps, *name.rsplit(":", 1)[::-1]))
    return events


def op_times(logdir: str | Path, steps: int, top: int = 15) -> list[dict]:
    """Time per op type over the profiled steps, largest first.

    Args:
        logdir: the profiler's log directory.
        steps: how many steps the profile covers (for the per-step figure).
        top: how many op types to list; the rest are summed as "other".

    Returns:
        `[{"op": type, "ms_per_step": float, "share": fraction of all op time}, ...]`.
    """
    totals: collections.Counter = collections.Counter()
    for start, end, op_type, _ in _op_events(logdir):
        totals[op_type] += (end - start) / 1e9  # ms
    whole = sum(totals.values()) or 1.0
    ranked = totals.most_common()
    rows = ranked[:top] + ([("other", sum(ms for _, ms in ranked[top:]))] if ranked[top:] else [])
    return [{"op": op, "ms_per_step": round(ms / steps, 2), "share": round(ms / whole, 4)}
            for op, ms in rows]


def _phase(name: str) -> str:
    """The part of a training step an op belongs to, from its name scope."""
    if "/while" in name:  # FastLSTM's forward loops run in the model's layer scopes, its
        # hand-written backward loops (custom gradients) outside them
        return "time loop forward" if f"/{MODEL_NAME}" in name else "time loop backward"
    if any(scope in name for scope in PROJECTION_SCOPES):
        return "projection and loss"
    return "rest"


def phase_times(logdir: str | Path, steps: int) -> list[dict]:
    """Wall time per step by which parts of the step were running at that moment.

    Op times overlap on the executor's threads, so their sum says little about the wall
    time; this sweeps the timeline instead. Parts (`_phase`): the LSTM time loops forward
    and backward, the output projection with the loss, and the rest (input projections,
    their gradients, optimizer, ...).

    Returns:
        `[{"running": [part, ...], "ms_per_step": float, "share": of the wall time}, ...]`,
        largest first; `running` is empty for the time no op ran.
    """
    tagged = [(start, end, _phase(name)) for start, end, _, name in _op_events(logdir)]
    edges = sorted(edge for start, end, phase in tagged
                   for edge in ((start, 1, phase), (end, -1, phase)))
    active: collections.Counter = collections.Counter()
    spans: collections.Counter = collections.Counter()
    for (time, delta, phase), (following, *_) in zip(edges, edges[1:] + edges[-1:]):
        active[phase] += delta
        spans[tuple(sorted(p for p, n in active.items() if n > 0))] += following - time
    whole = sum(spans.values()) or 1
    return [{"running": list(running), "ms_per_step": round(ps / 1e9 / steps, 1),
             "share": round(ps / whole, 4)} for running, ps in spans.most_common()]
