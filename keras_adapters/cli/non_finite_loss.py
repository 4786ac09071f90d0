"""Stopping `fit` at the first step whose loss is NaN or infinite, and saying why."""

import math

import keras

LIKELY_CAUSES = (
    "the learning rate is too high (try --learning-rate ten times smaller)",
    "mixed precision lost range or precision (try again without --mixed-precision)",
    "bad data (a batch of empty, garbled or extreme inputs)",
)


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite.

    Attributes:
        step: int. The training step (1-based, counted over the whole run)
            whose loss was not finite.
        epoch: int. Its epoch, 1-based.
        step_in_epoch: int. Its step within the epoch, 1-based.
        loss: float. The loss Keras reported, or `None` when the loss was
            finite but the step left NaN or infinite weights.
    """

    def __init__(self, step, epoch, step_in_epoch, loss, checkpoint_step=None):
        self.step, self.epoch, self.step_in_epoch, self.loss = step, epoch, step_in_epoch, loss
        kept = (
            f"The last good checkpoint (step {checkpoint_step}) is kept."
            if checkpoint_step
            else "No checkpoint was written before it."
        )
        what = (
            "the trainable weights became NaN or infinite"
            if loss is None
            else f"the training loss became {loss}"
        )
        super().__init__(
            f"{what[0].upper()}{what[1:]} at step {step} (epoch {epoch}, step "
            f"{step_in_epoch} of the epoch); training stopped and no adapter, export or "
            f"metrics were written. {kept} Likely causes: " + "; ".join(LIKELY_CAUSES) + "."
        )


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` after the first step whose loss is NaN or inf.

    Keras' `TerminateOnNaN` sets `stop_training`, which still lets the
    epoch's validation and every later callback of that step run; raising
    ends `fit` at once, before a checkpoint callback listed after this one
    can write the diverged weights.

    Args:
        steps_per_epoch: int. Steps of one epoch, to name the failing one.
        first_step: int. Steps already done before this `fit` (a resumed
            run); step numbers in the message count from the run's start.
        checkpoint_step: callable returning the step of the last checkpoint
            (or `None`), for the message.
    """

    def __init__(self, steps_per_epoch, first_step=0, checkpoint_step=lambda: None):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.step = first_step
        self.checkpoint_step = checkpoint_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            epoch, in_epoch = divmod(self.step - 1, self.steps_per_epoch)
            raise NonFiniteLossError(
                self.step, epoch + 1, in_epoch + 1, float(loss), self.checkpoint_step()
            )
