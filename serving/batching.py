"""Server-side batching of concurrent requests, and `predict`, which gRPC and REST share."""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_s2s.constants import SERVING_DEFAULT
from serving.registry import LoadedVersion, ModelRegistry, ServingError

LOG = logging.getLogger("keras_s2s.serving")


class _Request(NamedTuple):
    """One caller's request waiting in the batcher's queue."""

    loaded: LoadedVersion
    signature: str
    tensors: dict[str, tf.Tensor]  # each `[size, ...]`
    size: int  # sentences in this request
    future: Future  # the caller waits on it: its outputs, or the error of its group

    def joins(self, other: "_Request") -> bool:
        """Whether `other` can run in the same call as this request."""
        return other.loaded is self.loaded and other.signature == self.signature and \
            set(other.tensors) == set(self.tensors)


class Batcher:
    """Merges concurrent requests to the same signature into one call along the batch axis.

    Only signatures whose inputs all have a leading batch axis are merged (`translate`,
    `translate_greedy`, `score`); the rest run one at a time.

    Args:
        max_batch_size: most sentences per merged call (1 disables batching).
        timeout_s: how long the first request waits for company.
    """

    def __init__(self, max_batch_size: int = 64, timeout_s: float = 0.005):
        self.max_batch_size, self.timeout_s = max_batch_size, timeout_s
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def batchable(loaded: LoadedVersion, signature: str) -> bool:
        specs = loaded.signatures[signature].structured_input_signature[1]
        return all(spec.shape.rank == 1 for spec in specs.values())

    def submit(self, loaded: LoadedVersion, signature: str, inputs: dict[str, np.ndarray]):
        """Runs `signature` on `inputs`, merged with concurrent requests when possible."""
        tensors = loaded.validate(signature, inputs)  # a bad request fails alone, unmerged
        if self.max_batch_size <= 1 or not self.batchable(loaded, signature):
            return loaded.call(signature, tensors)
        sizes = {int(t.shape[0]) for t in tensors.values()}
        if len(sizes) != 1:
            return loaded.call(signature, tensors)  # let the signature report the mismatch
        request = _Request(loaded, signature, tensors, sizes.pop(), Future())
        self._queue.put(request)
        return request.future.result()  # raises the group's error, if any

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            group, size, others = [first], first.size, []
            while size < self.max_batch_size:
                try:
                    request = self._queue.get(timeout=self.timeout_s)
                except queue.Empty:
                    break
                if first.joins(request) and size + request.size <= self.max_batch_size:
                    group.append(request)
                    size += request.size
                else:
                    others.append(request)
            self._run_group(group)
            for request in others:
                self._run_group([request])

    @staticmethod
    def _run_group(group: list[_Request]) -> None:
        """One call for the whole group; each request's future gets its slice of the outputs."""
        first = group[0]
        try:
            merged = {k: tf.concat([r.tensors[k] for r in group], axis=0) for k in first.tensors}
            outputs = first.loaded.call(first.signature, merged)
        except Exception as err:  # every waiting request gets the error
            for request in group:
                request.future.set_exception(err)
            return
        start = 0
        for request in group:
            request.future.set_result({k: v[start:start + request.size]
                                       for k, v in outputs.items()})
            start += request.size


def predict(registry: ModelRegistry, batcher: Batcher, name: str, version: int | None,
            signature: str, inputs: dict[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]]:
    """Shared by gRPC and REST: resolves the model version and runs the signature (an empty
    name means `serving_default`, as in TF Serving). Logs one line per request: model,
    version, signature, batch size, status and milliseconds."""
    start, signature = time.perf_counter(), signature or SERVING_DEFAULT
    rows = max((len(v) for v in inputs.values() if np.ndim(v)), default=1)
    number, status = version, "OK"
    try:
        number, loaded = registry.get(name, version)
        return number, batcher.submit(loaded, signature, inputs)
    except ServingError as err:
        status = err.code
        LOG.warning("model=%s signature=%s error=%s: %s", name, signature, err.code, err)
        raise
    except Exception as err:
        status = "INTERNAL"
        LOG.error("model=%s signature=%s error=INTERNAL: %s", name, signature, err)
        raise
    finally:
        LOG.info("model=%s version=%s signature=%s batch=%d status=%s ms=%.1f", name, number,
                 signature, rows, status, (time.perf_counter() - start) * 1000)
