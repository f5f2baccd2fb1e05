"""Optimizers that clip the global norm of the *aggregated* gradient, as the paper did.

Keras 3 clips (`clipnorm`, `global_clipnorm`) inside each replica before the cross-replica
sum, so under `MirroredStrategy` every replica clips its own partial gradient. Here the sum
comes first and the clip after it: `g ← c·g/‖g‖` when `‖g‖ > c`, `g` being the whole batch's
gradient over all replicas and all variables.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class _ClipAfterAllReduce:
    """Mixin over a Keras TF-backend optimizer (it overrides the backend update step)."""

    def __init__(self, *args, clip_global_norm: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_global_norm = clip_global_norm

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Embedding gradients are IndexedSlices whose row counts differ per replica,
            # which the packed collective cannot sum: make them dense first.
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                     for g in grads]
        # Sum over replicas first (a no-op outside a replica context) ...
        reduced = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        grads = [g for g, _ in reduced]
        # ... then clip the global norm of the whole batch's gradient.
        if self.clip_global_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, self.clip_global_norm)
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step, self._distribution_strategy,
            list(zip(grads, variables)), learning_rate)

    def get_config(self):
        return {**super().get_config(), "clip_global_norm": self.clip_global_norm}


@keras.saving.register_keras_serializable(package="keras_s2s")
class ClippedSGD(_ClipAfterAllReduce, keras.optimizers.SGD):
    """Plain SGD with the global clip applied to the aggregated gradient."""


@keras.saving.register_keras_serializable(package="keras_s2s")
class ClippedAdam(_ClipAfterAllReduce, keras.optimizers.Adam):
    """Adam with the global clip applied to the aggregated gradient."""


def make_optimizer(name: str, learning_rate, clip_global_norm: float) -> keras.optimizers.Optimizer:
    """`name` is "sgd" or "adam"; `learning_rate` a float or a schedule."""
    cls = {"sgd": ClippedSGD, "adam": ClippedAdam}[name]
    return cls(learning_rate=learning_rate, clip_global_norm=clip_global_norm)
