"""`resumable_fit`: `fit` that checkpoints every N steps and continues where a killed run stopped."""

import keras
import numpy as np
import tensorflow as tf

from keras_adapters.cli.non_finite_loss import NonFiniteLossError, StopOnNonFiniteLoss
from keras_adapters.cli.training_checkpoint import assign_metrics
from keras_adapters.cli.training_curve import StepLog


def epoch_order(count, seed, epoch):
    """The order of `count` training examples in `epoch`: a permutation fixed by `(seed, epoch)`.

    A function of its arguments only (unlike a `tf.data` shuffle, whose
    order depends on how many times the dataset was iterated in this
    process), so a resumed process sees the same stream as the first.
    """
    return np.random.default_rng([seed, epoch]).permutation(count)


def resumable_fit(
    model,
    epoch_data,
    run,
    *,
    epochs,
    steps_per_epoch,
    every,
    validation_data=None,
    verbose=1,
):
    """Trains `model` for `epochs` epochs, continuing from `run`'s latest checkpoint.

    One `fit` per epoch, so that the epoch a kill interrupted restarts at
    its next step: its batches are `epoch_data(epoch)` without the ones
    already trained on. A checkpoint is written every `every` steps and
    after each epoch (after its validation); a non-finite loss raises
    `NonFiniteLossError` before the diverged weights are checkpointed, and
    marks the run failed.

    Args:
        model: a compiled Keras model, built as when the run started.
        epoch_data: function `epoch -> tf.data.Dataset` of that epoch's
            `steps_per_epoch` batches; the same batches for the same epoch
            in every process.
        run: the `keras_adapters.cli.run_directory.RunDirectory`.
        epochs: int. Epochs of the whole run.
        steps_per_epoch: int. Batches of one epoch.
        every: int. Steps between checkpoints; 0 checkpoints after each
            epoch only.
        validation_data: evaluated after each epoch, as in `fit`.
        verbose: Keras progress output.

    Returns:
        `(StepLog, resumed_from_step)`: the curve of the whole run, also of
        the steps done before the interruption, and the step the run
        continued from (0 for a run that started here).
    """
    position, metrics = run.checkpoint.restore(model)
    done = position["global_step"] if position else 0
    log = StepLog(position["curve"] if position else None)
    saver = _SaveCheckpoints(run.checkpoint, every, steps_per_epoch, epochs, log, done, run.notes)
    if done % steps_per_epoch:  # the epoch's running metrics continue too
        _build_metrics(model, epoch_data(done // steps_per_epoch))
        saver.resumed_metrics = metrics
    stop = StopOnNonFiniteLoss(steps_per_epoch, done, lambda: saver.saved_step)
    # One callback list over all the `fit` calls, so progress reads "Epoch 2/3".
    callbacks = keras.callbacks.CallbackList(
        [log, stop, saver],
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
        model=model,
    )
    if done:
        epoch, step = divmod(done, steps_per_epoch)
        print(f"Continuing at epoch {epoch + 1} of {epochs}, step {step + 1} of {steps_per_epoch}.")
    try:
        for epoch in range(done // steps_per_epoch, epochs):
            # A known length: Keras' progress bar knows it, and a wrong count fails loudly.
            data = epoch_data(epoch).apply(tf.data.experimental.assert_cardinality(steps_per_epoch))
            if epoch == done // steps_per_epoch and done % steps_per_epoch:
                data = data.skip(done % steps_per_epoch)
            model.fit(
                data,
                validation_data=validation_data,
                initial_epoch=epoch,
                epochs=epoch + 1,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # the order is `epoch_data`'s
            )
    except NonFiniteLossError as error:
        run.fail(error)
        raise
    return log, done


class _SaveCheckpoints(keras.callbacks.Callback):
    """Writes a checkpoint every `every` steps and after each epoch's validation."""

    def __init__(self, checkpoint, every, steps_per_epoch, epochs, log, done, notes):
        super().__init__()
        self.checkpoint, self.every, self.log = checkpoint, every, log
        self.steps_per_epoch, self.epochs, self.notes = steps_per_epoch, epochs, notes
        self.step = done
        self.saved_step = done or None
        self.resumed_metrics = None

    def on_epoch_begin(self, epoch, logs=None):
        # `fit` has just reset the metrics; an epoch resumed mid-way continues their sums.
        if self.resumed_metrics is not None:
            assign_metrics(self.model, self.resumed_metrics)
            self.resumed_metrics = None

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        # A step that ends an epoch is saved after its validation, by `on_epoch_end`.
        if self.every and self.step % self.every == 0 and self.step % self.steps_per_epoch:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self._save()

    def _save(self):
        _check_finite(self.model, self.step, self.steps_per_epoch, self.saved_step)
        self.checkpoint.save(
            self.model,
            self.step,
            total_steps=self.steps_per_epoch * self.epochs,
            steps_per_epoch=self.steps_per_epoch,
            curve=self.log.state(),
            notes=self.notes,
        )
        self.saved_step = self.step


def _build_metrics(model, data):
    """Creates the compiled metrics' variables, which Keras builds in the first step, to restore them."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(next(iter(data)))
    model.compute_metrics(x, y, model(x), sample_weight=sample_weight)


def _check_finite(model, step, steps_per_epoch, saved_step):
    """A finite loss can still leave NaN weights (an infinite gradient): never save those."""
    for variable in model.trainable_variables:
        if not np.isfinite(keras.ops.convert_to_numpy(variable)).all():
            epoch, in_epoch = divmod(step - 1, steps_per_epoch)
            raise NonFiniteLossError(step, epoch + 1, in_epoch + 1, None, saved_step)
