"""The training curve of a run: per-step training metrics, per-epoch validation."""

import keras


class StepLog(keras.callbacks.Callback):
    """Records Keras' running loss and accuracy after every step, and each epoch's logs.

    Args:
        state: optional dict from `state()`: a resumed run continues the
            curve of the steps it already did.
    """

    def __init__(self, state=None):
        super().__init__()
        state = state or {"steps": {"step": [], "loss": [], "accuracy": []}, "history": {}}
        self.steps = {key: list(values) for key, values in state["steps"].items()}
        self.history = {key: list(values) for key, values in state["history"].items()}

    @property
    def step(self):
        """Steps recorded so far, over the whole run."""
        return len(self.steps["step"])

    def state(self):
        """Everything recorded, as JSON-ready lists."""
        return {"steps": self.steps, "history": self.history}

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.steps["step"].append(self.step + 1)
        for key in ("loss", "accuracy"):
            self.steps[key].append(float(logs.get(key, float("nan"))))

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


def plot_training_curve(steps, history, path, title):
    """Loss and accuracy: running training values per step, validation per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = len(history["loss"])
    per_epoch = len(steps["step"]) // max(epochs, 1)
    epoch_ends = [per_epoch * (i + 1) for i in range(epochs)]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        axis.plot(steps["step"], steps[metric], label="train (running, per step)")
        if f"val_{metric}" in history:
            axis.plot(
                epoch_ends,
                history[f"val_{metric}"],
                "s",
                markersize=8,
                label="validation (per epoch)",
            )
        axis.set_xlabel("training step")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
