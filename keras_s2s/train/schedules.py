"""Learning-rate schedules, including the paper's: halve every half epoch after epoch 5."""

from __future__ import annotations

import keras
from keras import ops

from keras_s2s.config import TrainConfig


@keras.saving.register_keras_serializable(package="keras_s2s")
class StepDecayByEpoch(keras.optimizers.schedules.LearningRateSchedule):
    """`lr = base` before `start_epoch`, then halved at `start_epoch` and every `every` epochs.

    With the paper's values (0.7, start 5, every 0.5): 0.7 until epoch 5, then 0.35,
    0.175, 0.0875, … at epochs 5, 5.5, 6, ….

    Args:
        base: the initial learning rate.
        steps_per_epoch: batches in one epoch (counted from the data).
        start_epoch: the first halving.
        every: epochs between halvings.
        factor: the multiplier at each decay (0.5 halves).
    """

    def __init__(self, base: float, steps_per_epoch: int, start_epoch: float = 5.0,
                 every: float = 0.5, factor: float = 0.5):
        if steps_per_epoch <= 0:
            raise ValueError(f"steps_per_epoch must be positive; received: {steps_per_epoch}.")
        self.base, self.steps_per_epoch = base, steps_per_epoch
        self.start_epoch, self.every, self.factor = start_epoch, every, factor

    def __call__(self, step):
        epoch = ops.cast(step, "float32") / float(self.steps_per_epoch)
        decays = ops.floor((epoch - self.start_epoch) / self.every) + 1.0
        decays = ops.maximum(decays, 0.0)
        return self.base * ops.power(self.factor, decays)

    def get_config(self):
        return {"base": self.base, "steps_per_epoch": self.steps_per_epoch,
                "start_epoch": self.start_epoch, "every": self.every, "factor": self.factor}


@keras.saving.register_keras_serializable(package="keras_s2s")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`inner(step) · min(1, (step + 1) / warmup_steps)`: the rate of step 0 is
    `inner / warmup_steps`, the full rate is reached at step `warmup_steps - 1`, and from there
    on the inner schedule is unchanged (its own step count is not shifted).

    Adam's first steps on an LSTM with a large rate can throw a run into a region it takes
    epochs to leave; the warm-up keeps those steps small.

    Args:
        inner: the schedule after warm-up; a float is a constant rate, which the `plateau`
            schedule lowers between epochs through `set_rate`.
        warmup_steps: steps of the linear ramp (> 0).
    """

    def __init__(self, inner, warmup_steps: int):
        if warmup_steps <= 0:
            raise ValueError(f"warmup_steps must be positive; received: {warmup_steps}.")
        if isinstance(inner, dict):  # from get_config
            inner = keras.saving.deserialize_keras_object(inner)
        self.warmup_steps = warmup_steps
        # a constant rate lives in a variable, so `set_rate` can lower it
        self.inner = inner if callable(inner) else keras.Variable(
            float(inner), trainable=False, name="base_learning_rate")

    def __call__(self, step):
        ramp = ops.minimum(1.0, (ops.cast(step, "float32") + 1.0) / float(self.warmup_steps))
        return ramp * (self.inner(step) if callable(self.inner) else self.inner)

    def get_config(self):
        inner = (keras.saving.serialize_keras_object(self.inner) if callable(self.inner)
                 else float(self.inner.numpy()))
        return {"inner": inner, "warmup_steps": self.warmup_steps}


def learning_rate(cfg: TrainConfig, steps_per_epoch: int | None):
    """A float for a constant rate (also the start of `plateau`, which the trainer lowers
    between epochs), or the schedule the config names; under `LinearWarmup` when
    `cfg.warmup_steps` > 0."""
    if cfg.schedule in ("constant", "plateau"):
        rate = cfg.learning_rate
    elif not steps_per_epoch:
        raise ValueError("The 'paper' schedule needs the number of batches per epoch.")
    else:
        rate = StepDecayByEpoch(cfg.learning_rate, steps_per_epoch, cfg.decay_start_epoch,
                                cfg.decay_every)
    return LinearWarmup(rate, cfg.warmup_steps) if cfg.warmup_steps > 0 else rate


def set_rate(optimizer: keras.optimizers.Optimizer, value: float) -> None:
    """Sets the base rate of a constant-rate optimizer (the `plateau` schedule between
    epochs), warm-up or not."""
    schedule = optimizer._learning_rate  # the object given to the optimizer (Keras keeps no
    # public handle on it); a float rate is a variable there too
    if isinstance(schedule, LinearWarmup):
        schedule = schedule.inner
    if callable(schedule):
        raise ValueError("set_rate needs a constant rate (warm-up or not), not a schedule.")
    schedule.assign(value)
