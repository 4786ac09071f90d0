"""The training step of an adapted model whose adapters have gradient hooks (TensorFlow)."""

import warnings

import keras
import tensorflow as tf
from keras import ops

from keras_adapters.injection.gradient_hooks import run_gradient_hooks


def train_step_with_hooks(model, data, hooks):
    """Keras' TensorFlow `train_step`, with gradient hooks between gradients and update.

    Line for line what `keras.Model.train_step` does on the TensorFlow
    backend (Keras 3.15: forward under a `tf.GradientTape`, `compute_loss`,
    loss tracking, loss scaling, gradients, `optimizer.apply_gradients`,
    `compute_metrics`), with one addition: `run_gradient_hooks` between the
    gradients and the update. The hooks see the gradients of the unscaled
    loss; a gradient a hook replaces is scaled back before the optimizer
    (which unscales) applies it. Keras' own three trainer helpers are used
    where no public API exists: `_call_has_training_arg`, `_compute_loss`
    (which supports `compute_loss` overrides without `training`) and
    `_loss_tracker`.

    Args:
        model: the adapted model.
        data: one batch, as `fit` passes it.
        hooks: from `keras_adapters.injection.gradient_hooks.gradient_hooks`.

    Returns:
        The metrics dict `fit` logs.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        if model._call_has_training_arg:
            y_pred = model(x, training=True)
        else:
            y_pred = model(x)
        loss = model._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )
        batch_size = tf.shape(next(i for i in keras.tree.flatten(x) if i is not None))[0]
        model._loss_tracker.update_state(_unscale_for_replicas(loss), sample_weight=batch_size)
        if model.optimizer is not None:
            loss = model.optimizer.scale_loss(loss)
    variables = model.trainable_weights
    if variables:
        gradients = tape.gradient(loss, variables)
        factor = model.optimizer.scale_loss(ops.ones((), dtype=loss.dtype))
        unscaled = [None if g is None else g / ops.cast(factor, g.dtype) for g in gradients]
        hooked = run_gradient_hooks(hooks, variables, unscaled)
        gradients = [
            g if new is old else new * ops.cast(factor, new.dtype)
            for g, old, new in zip(gradients, unscaled, hooked)
        ]
        model.optimizer.apply_gradients(zip(gradients, variables))
    else:
        warnings.warn("The model does not have any trainable weights.", stacklevel=2)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _unscale_for_replicas(loss):
    """The loss as the loss tracker records it (Keras' `unscale_loss_for_distribution`)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss * ops.cast(replicas, loss.dtype) if replicas > 1 else loss
