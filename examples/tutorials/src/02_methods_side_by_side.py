# ruff: noqa: E402
# %% [markdown]
# # Lesson 2: adapters, LoRA, prefix tuning and full fine-tuning side by side
#
# Parameter-efficient methods differ in *where* they add trainable weights:
#
# | method | what trains |
# |---|---|
# | bottleneck adapter (Pfeiffer) | a small down-project → ReLU → up-project MLP after each feed-forward block |
# | LoRA | low-rank updates `A B` of the query and value projections |
# | prefix tuning | 10 learned key/value vectors per layer that every token can attend to |
# | full fine-tuning | every weight of the model |
#
# Here we train all four on the **same real data** (Rotten Tomatoes review
# snippets) with the same budget and measure three things: test accuracy, the
# number of trainable parameters, and the time of one training step.
#
# **Time budget.** A fair comparison needs minutes per method (see
# `docs/results.md` in the repository for full runs). To fit a class period, each
# method here trains for **20 steps of 16 snippets** (320 snippets, 32 tokens) and is
# scored on **256 test snippets**. Treat small accuracy differences as noise;
# parameter counts are exact and step times are real.

# %%
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import keras_hub
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import keras_adapters
from keras_adapters.assets import load_backbone_preset
from keras_adapters.data import load_text_classification

data = load_text_classification("rotten_tomatoes")
train_ds = data.as_dataset("train", batch_size=16, shuffle=True, limit=320)
test_ds = data.as_dataset("test", batch_size=64, limit=256)
test_labels = np.concatenate([labels.numpy() for _, labels in test_ds])
majority_baseline = max(np.mean(test_labels), 1 - np.mean(test_labels))
print(f"majority-label accuracy on these 256 test snippets: {majority_baseline:.3f}")

# %% [markdown]
# ## The contestants
#
# `None` stands for full fine-tuning: no adapter, every weight trains. Full
# fine-tuning gets a 50× smaller learning rate: large steps on pretrained weights
# destroy what they know, while adapter weights start from zero (or near it) and
# need large steps to matter.

# %%
methods = {
    "bottleneck adapter": (keras_adapters.PfeifferConfig(modules_to_save=["logits"]), 5e-3),
    "LoRA": (keras_adapters.LoraConfig(rank=8, alpha=16, modules_to_save=["logits"]), 5e-3),
    "prefix tuning": (
        keras_adapters.PrefixConfig(num_prefix_tokens=10, modules_to_save=["logits"]),
        5e-3,
    ),
    "full fine-tuning": (None, 1e-4),
}

# %% [markdown]
# Every method must start from the same pretrained model. Loading MiniLM four
# times would work, but adapters allow something cheaper: the backbone's own
# weights never change while an adapter trains, and `keras_adapters.delete_adapter`
# puts the original layers back. So we load the model once, and before each run
# only reset the `logits` head (which every method trains) to its initial values.
# Full fine-tuning, which does change the backbone, runs last.

# %%
keras.utils.set_random_seed(0)
backbone, tokenizer = load_backbone_preset("minilm_l6")
classifier = keras_adapters.models.MeanPooledTextClassifier(
    backbone,
    num_classes=2,
    preprocessor=keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32),
)
head = classifier.get_layer("logits")
initial_head = [np.array(weight) for weight in head.weights]
probe_texts = ["A gripping, funny film.", "Dull and overlong."]
pretrained_logits = classifier.predict(probe_texts, verbose=0)


class StepTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each training step."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def run(name, config, learning_rate):
    keras.utils.set_random_seed(0)
    for weight, value in zip(head.weights, initial_head):
        weight.assign(value)
    if config is not None:
        keras_adapters.add_adapter(classifier, config, adapter_name="task", verbose=False)
    trainable = sum(int(np.prod(w.shape)) for w in classifier.trainable_weights)
    classifier.compile(
        optimizer=keras.optimizers.AdamW(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = StepTimer()
    classifier.fit(train_ds, epochs=1, callbacks=[timer], verbose=0)
    accuracy = classifier.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
    if config is not None:
        keras_adapters.delete_adapter(classifier, "task")
    return {
        "method": name,
        "trainable": trainable,
        "percent": 100 * trainable / classifier.count_params(),
        "accuracy": accuracy,
        # the first step also builds the graph and the optimizer: leave it out
        "step_seconds": float(np.median(timer.seconds[1:])),
    }


results = []
for name, (config, learning_rate) in methods.items():
    if config is None:  # about to change the backbone: check it is still the pretrained one
        for weight, value in zip(head.weights, initial_head):
            weight.assign(value)
        restored_difference = float(
            np.abs(classifier.predict(probe_texts, verbose=0) - pretrained_logits).max()
        )
        print(f"after deleting the adapters, logits differ from the start by {restored_difference}")
    results.append(run(name, config, learning_rate))
    print(f"{name:<20} done: accuracy {results[-1]['accuracy']:.3f}")

# %% [markdown]
# ## The table

# %%
lines = [
    "| method | trainable parameters | % of model | test accuracy | step time (s) |",
    "|---|---:|---:|---:|---:|",
]
for row in results:
    lines.append(
        f"| {row['method']} | {row['trainable']:,} | {row['percent']:.2f} "
        f"| {row['accuracy']:.3f} | {row['step_seconds']:.2f} |"
    )
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## The chart
#
# Note the logarithmic scale of the middle panel: the methods differ by factors
# of hundreds in what they train.

# %%
names = [row["method"] for row in results]
colors = ["tab:blue", "tab:orange", "tab:green", "tab:gray"]
figure, axes = plt.subplots(1, 3, figsize=(13, 3.5))
axes[0].bar(names, [row["accuracy"] for row in results], color=colors)
axes[0].axhline(majority_baseline, color="black", linestyle="--", label="majority label")
axes[0].set_ylim(0.4, 1.0)
axes[0].set_title("test accuracy")
axes[0].legend(loc="upper left")
axes[1].bar(names, [row["trainable"] for row in results], color=colors)
axes[1].set_yscale("log")
axes[1].set_title("trainable parameters (log scale)")
axes[2].bar(names, [row["step_seconds"] for row in results], color=colors)
axes[2].set_title("seconds per training step")
for axis in axes:
    axis.tick_params(axis="x", labelrotation=20)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What the numbers say
#
# The sentences below are computed from this run's numbers, so they stay true
# on your machine too.

# %%
by_name = {row["method"]: row for row in results}
full = by_name["full fine-tuning"]
adapters = [row for row in results if row is not full]
smallest = min(adapters, key=lambda row: row["trainable"])
best = max(results, key=lambda row: row["accuracy"])
fastest = min(adapters, key=lambda row: row["step_seconds"])
conclusions = [
    f"Every parameter-efficient method trains at most "
    f"{max(row['percent'] for row in adapters):.2f}% of the parameters; "
    f"{smallest['method']} trains the fewest, "
    f"{full['trainable'] / smallest['trainable']:,.0f}× fewer than full fine-tuning.",
    f"The best test accuracy in this short run is {best['method']}'s ({best['accuracy']:.3f}); "
    + ", ".join(
        f"{row['method']} {row['accuracy'] - best['accuracy']:+.3f}"
        for row in results
        if row is not best
    )
    + ". With 256 test snippets, one snippet is 0.004 of accuracy: differences of a few "
    "points are within the noise of one short run.",
    f"The fastest step is {fastest['method']}'s: {fastest['step_seconds']:.2f} s against "
    f"{full['step_seconds']:.2f} s for full fine-tuning "
    f"({full['step_seconds'] / fastest['step_seconds']:.1f}× the time). Any speed-up is much "
    "smaller than the parameter ratio, because every method still runs the whole "
    "backbone forward and backward; what it saves is the optimizer work and memory for "
    "frozen weights, and above all the size of what you store per task.",
]
display(Markdown("\n".join(f"- {sentence}" for sentence in conclusions)))

# %% [markdown]
# ## Exercises
#
# 1. Give every method 3× more steps (`limit=960`). Which ranking changes, and
#    which stays the same?
# 2. Prefix tuning often wants a larger learning rate. Try `2e-2` for it alone.
#    Is it fair to tune one method's learning rate and not the others'?
# 3. Make LoRA and the bottleneck adapter the same size with
#    `keras_adapters.config_for_budget`, then compare again.
