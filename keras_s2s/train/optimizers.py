"""Optimizers that clip the global norm of the *aggregated* gradient, as the paper did.

Keras 3 clips (`clipnorm`, `global_clipnorm`) inside each replica before the cross-replica
sum, so under `MirroredStrategy` every replica clips its own partial gradient. Here the sum
comes first and the clip after it: `g ← c·g/‖g‖` when `‖g‖ > c`, `g` being the whole batch's
gradient over all replicas and all variables.

Embedding gradients arrive as `tf.IndexedSlices` with one row per token, a word's row as
often as it occurs. Their rows are merged before the norm is taken: the norm of the parts
is not the norm of their sum (TF's `clip_by_global_norm` takes the slices as they are).
"""

from __future__ import annotations

import keras
import tensorflow as tf


def merge_rows(grad):
    """An `IndexedSlices` gradient with one row per index (duplicates summed, in order of
    first occurrence); any other gradient unchanged.

    Args:
        grad: `IndexedSlices` of `values [n, ...]`, `indices [n]`, or a dense tensor.

    Returns:
        `IndexedSlices` of `values [u, ...]` over the `u` distinct indices, or `grad`.
    """
    if not isinstance(grad, tf.IndexedSlices):
        return grad
    rows, position = tf.unique(grad.indices)  # [u], [n] -> position of each in rows
    values = tf.math.unsorted_segment_sum(grad.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, grad.dense_shape)


def _sums_slices(context: tf.distribute.ReplicaContext) -> bool:
    """Whether the cross-replica sum takes `IndexedSlices` as they are: a sum on one
    device (`ReductionToOneDevice`, what `distribute.make_strategy` gives CPU replicas)
    concatenates them; TF's packed collectives need equal shapes in every replica."""
    cross_device_ops = getattr(context.strategy.extended, "_cross_device_ops", None)
    return isinstance(cross_device_ops, tf.distribute.ReductionToOneDevice)


def clip_scale(grads: list, clip_norm: float) -> tf.Tensor:
    """The factor `tf.clip_by_global_norm` multiplies every gradient by: `c / max(‖g‖, c)`,
    NaN when the norm is not finite."""
    norm = tf.linalg.global_norm(grads)
    return clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm)


class _ClipAfterAllReduce:
    """Mixin over a Keras TF-backend optimizer (it overrides the backend update step)."""

    def __init__(self, *args, clip_global_norm: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_global_norm = clip_global_norm

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1 and not _sums_slices(context):
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                     for g in grads]
        # Sum over replicas first (a no-op outside a replica context) ...
        reduced = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        grads = [merge_rows(g) for g, _ in reduced]
        # ... then clip the global norm of the whole batch's gradient.
        if self.clip_global_norm > 0:
            grads, learning_rate = self._clipped(grads, learning_rate)
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step, self._distribution_strategy,
            list(zip(grads, variables)), learning_rate)

    def _clipped(self, grads: list, learning_rate):
        """The gradients and learning rate to apply once the global norm is clipped."""
        scale = clip_scale(grads, self.clip_global_norm)
        return [_scaled(g, scale) for g in grads], learning_rate

    def get_config(self):
        return {**super().get_config(), "clip_global_norm": self.clip_global_norm}


def _scaled(grad, scale: tf.Tensor):
    """`grad · scale` for a dense or an `IndexedSlices` gradient."""
    if isinstance(grad, tf.IndexedSlices):
        return tf.IndexedSlices(grad.values * tf.cast(scale, grad.values.dtype), grad.indices,
                                grad.dense_shape)
    return grad * tf.cast(scale, grad.dtype)


@keras.saving.register_keras_serializable(package="keras_s2s")
class ClippedSGD(_ClipAfterAllReduce, keras.optimizers.SGD):
    """Plain SGD with the global clip applied to the aggregated gradient.

    Without momentum, `w ← w − lr·s·g` needs no scaled copy of the gradient: the clip's
    factor `s` goes into the learning rate, and each dense update is one fused op
    (`ResourceApplyGradientDescent`) instead of a multiply and a subtraction.
    """

    def _clipped(self, grads: list, learning_rate):
        if self.momentum != 0:
            return super()._clipped(grads, learning_rate)
        return grads, learning_rate * clip_scale(grads, self.clip_global_norm)

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum != 0 or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        tf.raw_ops.ResourceApplyGradientDescent(
            var=variable.handle, alpha=tf.cast(learning_rate, variable.dtype),
            delta=tf.cast(gradient, variable.dtype))


@keras.saving.register_keras_serializable(package="keras_s2s")
class ClippedAdam(_ClipAfterAllReduce, keras.optimizers.Adam):
    """Adam with the global clip applied to the aggregated gradient."""


def make_optimizer(name: str, learning_rate, clip_global_norm: float) -> keras.optimizers.Optimizer:
    """`name` is "sgd" or "adam"; `learning_rate` a float or a schedule."""
    cls = {"sgd": ClippedSGD, "adam": ClippedAdam}[name]
    return cls(learning_rate=learning_rate, clip_global_norm=clip_global_norm)
