"""Training: paper schedule and warm-up, losses, global clip after all-reduce on 2 replicas,
peepholes."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_s2s import cli
from keras_s2s.config import resolve
from keras_s2s.constants import SOURCE, TARGET_IN
from keras_s2s.model.inference import make_encode, make_step
from keras_s2s.model.seq2seq import build_seq2seq, parameter_counts
from keras_s2s.train.losses import SequenceLoss, softmax_nll
from keras_s2s.train.optimizers import make_optimizer
from keras_s2s.train.schedules import LinearWarmup, StepDecayByEpoch, learning_rate, set_rate

# Runs in a fresh interpreter: the CPU must be split before TensorFlow initialises.
REPLICA_SCRIPT = """
import json, sys
import numpy as np, keras, tensorflow as tf
from keras_s2s.train.distribute import make_strategy, split_cpu
split_cpu(2)
from keras_s2s.config import resolve
from keras_s2s.model.seq2seq import build_seq2seq
from keras_s2s.train import trainer

def batches(rows):
    rng = np.random.default_rng(0)
    src = rng.integers(4, 10, size=(rows, 6)).astype("int32")
    src[:4, 4:] = 0  # ragged: some sentences are padded
    tgt = rng.integers(4, 12, size=(rows, 5)).astype("int32")
    tgt[::2, 3:] = 0
    tgt[:3, 1:] = 0  # the two halves of the batch hold different numbers of real tokens
    tin = np.concatenate([np.full((rows, 1), 2, "int32"), tgt[:, :-1]], axis=1)
    return tf.data.Dataset.from_tensors(({"source": src, "target_in": tin}, tgt))

def run(strategy, loss="sentence_sum", clip=0.5, keras_clip=False, last_batch=8):
    cfg = resolve("tiny", overrides=["train.optimizer=sgd", "train.learning_rate=0.7",
                                     f"train.loss={loss}", f"train.clip_norm={clip}",
                                     "model.init_scale=0.08"])
    keras.utils.set_random_seed(7)
    data = batches(8).repeat(2).concatenate(batches(last_batch))
    with strategy.scope():
        model = build_seq2seq(cfg.model, 10, 12)
        trainer.compile_model(model, cfg.train)
        if keras_clip:  # Keras' own clipping: per replica, before the sum
            model.compile(optimizer=keras.optimizers.SGD(0.7, global_clipnorm=0.5),
                          loss=model.loss)
    history = model.fit(data, epochs=1, verbose=0).history
    return {"weights": [w.numpy().tolist() for w in model.trainable_weights],
            "loss": history["loss"][-1]}

cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
one, two = tf.distribute.OneDeviceStrategy(cpus[0]), make_strategy("mirrored")
print(json.dumps({
    "one": run(one), "two": run(two),
    "two_keras_clip": run(two, keras_clip=True), "one_keras_clip": run(one, keras_clip=True),
    # No clip, so that the gradient's scale shows. The last batch: two sentences with
    # different numbers of tokens, or one sentence (so one replica gets none)
    **{f"{n}_{loss}": run(s, loss, clip=0, last_batch=rows)
       for loss, rows in (("token_mean", 2), ("sentence_sum", 1))
       for n, s in (("one", one), ("two", two))},
}))
"""


def test_paper_schedule_at_epoch_boundaries():
    schedule = StepDecayByEpoch(0.7, steps_per_epoch=100, start_epoch=5, every=0.5)
    expected = {0: 0.7, 250: 0.7, 499: 0.7, 500: 0.35, 549: 0.35, 550: 0.175, 600: 0.0875,
                650: 0.04375, 700: 0.021875}
    for step, lr in expected.items():
        assert float(schedule(step)) == pytest.approx(lr), step


def test_warmup_ramps_every_schedule_then_leaves_it_unchanged():
    paper = resolve("tiny", overrides=["train.schedule=paper", "train.learning_rate=0.8",
                                       "train.decay_start_epoch=2", "train.decay_every=1",
                                       "train.warmup_steps=4"]).train
    schedule = learning_rate(paper, steps_per_epoch=10)
    expected = {0: 0.2, 1: 0.4, 2: 0.6, 3: 0.8, 4: 0.8, 19: 0.8, 20: 0.4, 30: 0.2}
    assert {step: float(schedule(step)) for step in expected} == pytest.approx(expected)
    again = LinearWarmup.from_config(schedule.get_config())
    assert [float(again(s)) for s in expected] == pytest.approx(list(expected.values()))
    plateau = resolve("tiny", overrides=["train.schedule=plateau", "train.learning_rate=0.8",
                                         "train.warmup_steps=4"]).train
    optimizer = make_optimizer("adam", learning_rate(plateau, None), 5.0)
    set_rate(optimizer, 0.1)  # what the trainer does when the metric stops improving
    assert float(optimizer._learning_rate(1)) == pytest.approx(0.05)
    assert float(optimizer._learning_rate(100)) == pytest.approx(0.1)
    assert learning_rate(resolve("tiny").train, None) == resolve("tiny").train.learning_rate
    with pytest.raises(ValueError, match="train.warmup_steps.*received: -3"):
        resolve("tiny", overrides=["train.warmup_steps=-3"])


def test_softmax_nll_matches_tfs_fused_kernel_values_and_gradients():
    logits = tf.random.stateless_normal([7, 11], seed=[1, 2]) * 5.0
    labels = tf.constant([0, 3, 10, 5, 5, 1, 9])
    weights = tf.constant([1.0, 0.0, 2.0, 0.5, 1.0, 1.0, 3.0])  # e.g. a mask, a divisor
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = softmax_nll(logits, labels)
        fused = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        ours_sum, fused_sum = tf.reduce_sum(ours * weights), tf.reduce_sum(fused * weights)
    np.testing.assert_allclose(ours, fused, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(ours_sum, logits),
                               tape.gradient(fused_sum, logits), atol=1e-6)


def test_sentence_sum_and_label_smoothing():
    y = np.array([[1, 2, 0]])
    logits = np.log(np.array([[[0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]]], "float32"))
    nll = -np.log(0.7) - np.log(0.6)
    assert float(SequenceLoss("sentence_sum")(y, logits)) == pytest.approx(nll, rel=1e-5)
    assert float(SequenceLoss("token_mean")(y, logits)) == pytest.approx(nll / 2, rel=1e-5)
    smooth = 0.1
    uniform = -np.log([[0.1, 0.7, 0.2], [0.2, 0.2, 0.6]]).mean(axis=1).sum()
    expected = (1 - smooth) * nll + smooth * uniform
    got = SequenceLoss("sentence_sum", label_smoothing=smooth)(y, logits)
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_two_replicas_train_as_one_device_global_clip_and_loss_divisor():
    out = subprocess.run([sys.executable, "-c", REPLICA_SCRIPT], capture_output=True,
                         text=True, check=True, timeout=300)
    import json

    runs = json.loads(out.stdout.strip().splitlines()[-1])
    for one, two in (("one", "two"), ("one_token_mean", "two_token_mean"),
                     ("one_sentence_sum", "two_sentence_sum")):
        for a, b in zip(runs[one]["weights"], runs[two]["weights"]):
            np.testing.assert_allclose(b, a, atol=2e-5)
    # The reported loss is the whole batch's (it was the sum of the replicas' own). Keras
    # weights each replica's by its sentences, so a batch split unevenly between the
    # replicas (the 1-sentence one) is reported a little off; its gradient is exact.
    for one, two in (("one", "two"), ("one_token_mean", "two_token_mean")):
        assert runs[two]["loss"] == pytest.approx(runs[one]["loss"], rel=1e-5)
    # Keras' built-in clipping differs between one and two replicas: the clip fired, and
    # clipping each replica's partial gradient is not the paper's rule.
    diff = max(np.abs(np.array(a) - np.array(b)).max()
               for a, b in zip(runs["one_keras_clip"]["weights"],
                               runs["two_keras_clip"]["weights"]))
    assert diff > 1e-3


def test_peephole_model_steps_match_teacher_forcing():
    cfg = resolve("tiny", overrides=["model.peephole=true", "model.init_scale=0.08"])
    model = build_seq2seq(cfg.model, 10, 12)
    lstm = lambda i, h: 4 * h * (i + h + 1) + 3 * h  # noqa: E731  (3 peephole vectors)
    assert parameter_counts(model)["encoder_lstm"] == lstm(16, 32) + lstm(32, 32)
    src = np.array([[4, 5, 3, 0]], "int32")
    tin = np.array([[2, 6, 7]], "int32")
    logits = model({SOURCE: src, TARGET_IN: tin})
    step, states = make_step(model), make_encode(model)(tf.constant(src))
    for t in range(3):
        log_probs, states = step(tf.constant(tin[:, t]), states)
        np.testing.assert_allclose(log_probs, tf.nn.log_softmax(logits[:, t]), atol=1e-5)


def test_info_paper_parameter_count(capsys):
    assert cli.main(["info", "--preset", "paper", "--json"]) == 0
    import json

    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["parameters"] == 384_112_000
    assert figures["output_projection_parameters"] == 1000 * 80_000 + 80_000


def test_bf16_keeps_cell_state_float32_and_tracks_fp32():
    from keras_s2s.train.distribute import precision_scope

    cfg = resolve("tiny")
    fp32 = build_seq2seq(cfg.model, 10, 12)
    with precision_scope("bf16"):
        bf16 = build_seq2seq(cfg.model, 10, 12)
    bf16.set_weights(fp32.get_weights())
    assert bf16.get_layer("encoder_lstm_0").compute_dtype == "bfloat16"
    src = np.array([[4, 5, 6, 3, 0], [7, 3, 0, 0, 0]], "int32")
    tin = np.array([[2, 4, 5, 6], [2, 8, 0, 0]], "int32")
    states = make_encode(bf16)(tf.constant(src))
    assert states[1].dtype == tf.float32  # c of layer 0
    a = tf.nn.log_softmax(fp32({SOURCE: src, TARGET_IN: tin}))
    b = tf.nn.log_softmax(bf16({SOURCE: src, TARGET_IN: tin}))
    assert b.dtype == tf.float32
    np.testing.assert_allclose(a, b, atol=0.05)


def test_perplexity_shares_the_losss_softmax_and_agrees_with_it():
    from keras_s2s.train import trainer

    cfg = resolve("tiny")
    model = build_seq2seq(cfg.model, 10, 12)
    trainer.compile_model(model, cfg.train)
    x = {SOURCE: np.array([[4, 5, 6, 3, 0], [7, 3, 0, 0, 0]], "int32"),
         TARGET_IN: np.array([[2, 4, 5, 6], [2, 8, 0, 0]], "int32")}
    y = np.array([[4, 5, 6, 3], [8, 3, 0, 0]], "int32")
    graph = tf.function(model.train_step).get_concrete_function((x, y)).graph
    softmaxes = [op for op in graph.get_operations()  # exp over the vocabulary (V = 12)
                 if op.type == "Exp" and op.outputs[0].shape[-1:] == [12]]
    assert len(softmaxes) == 1
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["perplexity"] == pytest.approx(np.exp(logs["loss"]), rel=1e-5)
    logits = model(x).numpy()
    true_logit = np.take_along_axis(logits, y[..., None], -1)[..., 0]
    right = (true_logit >= logits.max(-1))[y > 0]
    assert logs["token_accuracy"] == pytest.approx(right.mean(), rel=1e-6)
