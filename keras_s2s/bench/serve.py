"""`keras-s2s bench serve`: p50/p99 latency and requests/s of the local server over gRPC."""

from __future__ import annotations

import threading
import time
from typing import Sequence

import grpc
import numpy as np

from serving.client import translate
from serving.server import Server

DEFAULT_SENTENCES = ["A man is riding a bicycle.", "Two dogs play in the snow.", "12 345", "7"]


def _load(port: int, name: str, clients: int, requests: int,
          sentences: Sequence[str]) -> dict:
    """`requests` one-sentence calls from `clients` threads; every loop is bounded."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker():
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for i in counter:  # shared iterator: the requests are split among the clients
                start = time.perf_counter()
                try:
                    translate([sentences[i % len(sentences)]], port=port, model_name=name,
                              timeout=60, channel=channel)
                    with lock:
                        latencies.append(time.perf_counter() - start)
                except grpc.RpcError:
                    with lock:
                        errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"requests_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
            "errors": errors[0], "ok": len(latencies)}


def bench_serve(base: str, name: str, clients: int, requests: int,
                src: str | None = None) -> dict:
    """Runs the same load against the server with batching on, then off (one at a time)."""
    sentences = DEFAULT_SENTENCES
    if src:
        with open(src, encoding="utf-8") as handle:
            sentences = [line.strip() for line in handle if line.strip()][:256]
    figures: dict = {"clients": clients, "requests": requests}
    for label, batch in (("batched", 64), ("unbatched", 1)):
        server = Server(base, name, port=0, rest_port=None, max_batch_size=batch)
        try:
            translate(sentences[:1], port=server.port, model_name=name)  # warm up
            result = _load(server.port, name, clients, requests, sentences)
        finally:
            server.stop()
        figures.update({f"{key}_{label}" if label == "unbatched" else key: value
                        for key, value in result.items()})
    figures["batching_speedup"] = round(
        figures["requests_per_s"] / max(figures["requests_per_s_unbatched"], 1e-9), 2)
    return figures
