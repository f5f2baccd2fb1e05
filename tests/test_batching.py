"""The development server's batcher: concurrent requests merged into one call, each caller
getting its own slice (or the group's error) through a `concurrent.futures.Future`."""

import threading

import numpy as np
import pytest

from keras_s2s.export.saved_model import export_saved_model
from serving.batching import Batcher, predict
from serving.registry import LoadedVersion, ModelRegistry, ServingError


@pytest.fixture(scope="module")
def loaded(tiny_translator, tmp_path_factory):
    base = tmp_path_factory.mktemp("batching")
    return LoadedVersion(export_saved_model(tiny_translator, base, "tiny"))


class CountingCalls:
    """Wraps `LoadedVersion.call` to record the batch size of every real call."""

    def __init__(self, loaded, fail=False):
        self.loaded, self.original, self.sizes, self.fail = loaded, loaded.call, [], fail

    def __call__(self, signature, tensors):
        self.sizes.append(int(tensors["text"].shape[0]))
        if self.fail:
            raise RuntimeError("the model failed")
        return self.original(signature, tensors)

    def __enter__(self):
        self.loaded.call = self
        return self

    def __exit__(self, *_):
        self.loaded.call = self.original


def _concurrently(batcher, loaded, texts, signature="translate_greedy"):
    results, errors = [None] * len(texts), [None] * len(texts)
    start = threading.Barrier(len(texts))

    def one(i):
        start.wait()
        try:
            results[i] = batcher.submit(loaded, signature, {"text": np.array([texts[i]],
                                                                             object)})
        except Exception as err:  # collected for the assertions
            errors[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_concurrent_requests_share_calls_and_get_their_own_rows(loaded):
    texts = [str(n) for n in range(12)]
    alone = [loaded.run("translate_greedy", {"text": np.array([t], object)})["translation"][0]
             for t in texts]
    batcher = Batcher(max_batch_size=5, timeout_s=0.2)
    with CountingCalls(loaded) as calls:
        results, errors = _concurrently(batcher, loaded, texts)
    assert errors == [None] * len(texts)
    assert [r["translation"][0] for r in results] == alone
    assert sum(calls.sizes) == len(texts) and max(calls.sizes) <= 5
    assert len(calls.sizes) < len(texts)  # merged, not one call per request


def test_a_failing_group_fails_every_caller_and_the_batcher_survives(loaded):
    batcher = Batcher(max_batch_size=8, timeout_s=0.2)
    with CountingCalls(loaded, fail=True):
        _, errors = _concurrently(batcher, loaded, ["1", "2", "3"])
    assert all(isinstance(err, RuntimeError) for err in errors)
    out = batcher.submit(loaded, "translate_greedy", {"text": np.array(["4"], object)})
    assert out["translation"].shape == (1,)


def test_unbatchable_signatures_and_batching_off_run_directly(loaded):
    with CountingCalls(loaded) as calls:
        Batcher(max_batch_size=1).submit(loaded, "translate", {"text": np.array(["1", "2"],
                                                                                object)})
        Batcher().submit(loaded, "translate_nbest", {"text": np.array(["1"], object),
                                                     "beam_size": np.int32(2),
                                                     "n_best": np.int32(1)})
    assert calls.sizes == [2, 1]
    assert not Batcher.batchable(loaded, "translate_nbest")
    assert Batcher.batchable(loaded, "score")


def test_invalid_requests_fail_alone_before_queueing(loaded):
    with pytest.raises(ServingError) as info:
        Batcher().submit(loaded, "translate", {"text": np.array([1], np.int32)})
    assert info.value.code == "INVALID_ARGUMENT"


def test_predict_resolves_the_default_signature_and_version(loaded):
    registry = ModelRegistry(loaded.path.parent.parent, "tiny", poll_seconds=60)
    try:
        version, out = predict(registry, Batcher(), "tiny", None, "",
                               {"text": np.array(["12"], object)})
        assert version == 1 and set(out) == {"translation", "log_prob", "source_tokens",
                                             "source_tokens_read"}
        with pytest.raises(ServingError, match="has no loaded version 7"):
            predict(registry, Batcher(), "tiny", 7, "", {"text": np.array(["12"], object)})
    finally:
        registry.close()
