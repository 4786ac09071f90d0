"""The training-curve PNG of a run."""


def plot_training_curve(history, path, title):
    """Loss and accuracy per epoch, training and validation, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.6))
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.plot(epochs, history[metric], "o-", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.set_xticks(list(epochs))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
