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


def learning_rate(cfg: TrainConfig, steps_per_epoch: int | None):
    """A float for a constant rate (also the start of `plateau`, which the trainer lowers
    between epochs), or the schedule the config names."""
    if cfg.schedule in ("constant", "plateau"):
        return cfg.learning_rate
    if not steps_per_epoch:
        raise ValueError("The 'paper' schedule needs the number of batches per epoch.")
    return StepDecayByEpoch(cfg.learning_rate, steps_per_epoch, cfg.decay_start_epoch,
                            cfg.decay_every)
