# ruff: noqa: E402
# %% [markdown]
# # Lesson 3: one backbone, several tasks
#
# A company rarely needs one model: it needs a sentiment classifier, a topic
# classifier, a spam filter... Fully fine-tuning one copy of a 90 MB encoder per
# task multiplies storage and serving cost. With adapters, the pretrained
# backbone is shared and each task is a **small adapter file**.
#
# In this lesson you will
#
# 1. derive a second task, *subjectivity*, from real text shipped with the package,
# 2. train one LoRA adapter per task on the same frozen MiniLM-L6 encoder,
# 3. save each adapter as its own small file and switch tasks by loading one,
# 4. export one task as a TensorFlow SavedModel and call it the way TF Serving does:
#    raw strings in, labels out, in a separate process that has never heard of Keras.
#
# **Time budget.** To run in a few minutes on a 2-core laptop CPU, each
# adapter trains for one short pass (256 sentiment snippets, 160 subjectivity
# sentences, 32-token sequences) and is scored on 128 held-out examples per task.
# That is enough to see each adapter learn its task, not to reach good accuracy
# (lesson 1 and `keras-adapters train` show longer runs).

# %%
import bz2
import csv
import os
import pathlib
import re

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the export needs TensorFlow

import keras
import keras_hub
import numpy as np

import keras_adapters
from keras_adapters.assets import fetch_asset, get_asset, load_backbone_preset
from keras_adapters.data import load_text_classification
from keras_adapters.export import export_text_classifier, verify_saved_model

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Two tasks from real text
#
# **Task 1, sentiment**: the Rotten Tomatoes review snippets, `fresh` or `rotten`
# (the data set of lesson 1).
#
# **Task 2, subjectivity**: is a sentence an *opinion* or a *statement of fact*?
# The file that ships the review snippets also holds 1,097 plot summaries of the
# same films. Following Pang & Lee (2004), who built their subjectivity data set
# the same way, review snippets are *subjective* and single sentences from plot
# summaries are *objective*. We split the summaries into sentences and draw as
# many review snippets, so the two labels are balanced.

# %%
record = get_asset("rotten_tomatoes")
corpus_file = fetch_asset(record) / record.relative_files[0]
with bz2.open(corpus_file, "rt", encoding="utf-8") as handle:
    rows = list(csv.DictReader(handle))

plot_sentences = [
    sentence.strip()
    for row in rows
    if row["category"] == "plot"
    for sentence in re.split(r"(?<=[.!?])\s+", row["text"])
    if len(sentence.split()) >= 6
]
reviews = [row["text"] for row in rows if row["category"] in ("fresh", "rotten")]
picked_reviews = rng.choice(reviews, size=len(plot_sentences), replace=False)

subjectivity_file = pathlib.Path("subjectivity.csv")
with open(subjectivity_file, "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["text", "label"])
    writer.writerows([sentence, "objective"] for sentence in plot_sentences)
    writer.writerows([review, "subjective"] for review in picked_reviews)

tasks = {
    "sentiment": load_text_classification("rotten_tomatoes"),
    "subjectivity": load_text_classification(
        str(subjectivity_file), label_names=["objective", "subjective"]
    ),
}
for name, data in tasks.items():
    print(f"--- {name}\n{data.summary()}")

# %% [markdown]
# What to look at: both tasks have their own train/validation/test splits with no
# text in two splits. (Sentences of one film's summary can still land in both
# train and test; for this lesson that is fine, for a paper it would not be.)
#
# ## 2. One backbone, one adapter per task
#
# We load MiniLM-L6 once. Each `add_adapter` call adds a *new named* LoRA adapter
# and makes it the only one that trains; the 22.7M backbone weights never change.
# Both tasks have two labels, so one `logits` head of two outputs serves both;
# it is listed in `modules_to_save`, so it trains with each adapter and is
# saved in each adapter's file.

# %%
backbone, tokenizer = load_backbone_preset("minilm_l6")
preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32)
classifier = keras_adapters.models.MeanPooledTextClassifier(
    backbone, num_classes=2, preprocessor=preprocessor
)
base_kernel = np.array(backbone.transformer_layers[0]._self_attention_layer._query_dense.kernel)

train_examples = {"sentiment": 256, "subjectivity": 160}


def compile_classifier():
    classifier.compile(
        optimizer=keras.optimizers.AdamW(5e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def test_accuracy(task):
    test_ds = tasks[task].as_dataset("test", batch_size=64, limit=128)
    return classifier.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]


os.makedirs("adapters", exist_ok=True)
accuracy_trained = {}
for task, data in tasks.items():
    keras_adapters.add_adapter(
        classifier,
        keras_adapters.LoraConfig(rank=8, alpha=16, modules_to_save=["logits"]),
        adapter_name=task,
        verbose=False,
    )
    compile_classifier()
    train_ds = data.as_dataset("train", batch_size=16, shuffle=True, limit=train_examples[task])
    classifier.fit(train_ds, epochs=1, verbose=0)
    accuracy_trained[task] = test_accuracy(task)
    keras_adapters.save_adapter(classifier, f"adapters/{task}", adapter_name=task)
    print(f"{task:<13} test accuracy {accuracy_trained[task]:.3f}")

print(keras_adapters.trainable_report(classifier))

# %% [markdown]
# The report lists both adapters; only the last one added is active. The
# backbone's own weights are untouched:

# %%
query_kernel = backbone.transformer_layers[0]._self_attention_layer._query_dense
print("block 0 query kernel unchanged:", np.array_equal(base_kernel, query_kernel.kernel))

# %% [markdown]
# ## 3. Small files, one per task
#
# Each adapter directory holds a JSON config and a safetensors file keyed by layer
# path. Compare them with the size of the backbone itself:


# %%
def folder_bytes(folder):
    return sum(path.stat().st_size for path in pathlib.Path(folder).rglob("*") if path.is_file())


backbone_bytes = backbone.count_params() * 4  # float32
adapter_bytes = {task: folder_bytes(f"adapters/{task}") for task in tasks}
for task, size in adapter_bytes.items():
    print(f"adapters/{task:<13} {size / 1e3:8.0f} kB")
print(f"the backbone (float32)  {backbone_bytes / 1e6:8.1f} MB")

# %% [markdown]
# ### Switching tasks
#
# Both tasks share the one `logits` head layer, and the head was last trained for
# subjectivity. So switching is done with the files: remove the adapters in
# memory and load the task's file, which restores its LoRA weights *and* its copy
# of the head. (Tasks with separate heads could instead keep every adapter in
# memory and switch with `keras_adapters.set_active_adapters`.)


# %%
def use_task(task):
    for name in keras_adapters.list_adapters(classifier):
        keras_adapters.delete_adapter(classifier, name)
    keras_adapters.load_adapter(classifier, f"adapters/{task}")
    compile_classifier()


sentences = [
    "A sweet, funny and wise film that I will see again.",
    "The plot is a mess and the acting is worse.",
    "After the war, a young doctor moves to a small town in Maine.",
]
predictions = {}
for task in tasks:
    use_task(task)
    names = tasks[task].label_names
    predictions[task] = [names[i] for i in np.argmax(classifier.predict(sentences, verbose=0), -1)]
for i, sentence in enumerate(sentences):
    print(
        f"{sentence!r}\n   sentiment: {predictions['sentiment'][i]:<8}"
        f" subjectivity: {predictions['subjectivity'][i]}"
    )

# %% [markdown]
# Does a loaded adapter behave exactly like the one we trained? Switch back to
# sentiment and score it again: the accuracy must be identical.

# %%
use_task("sentiment")
accuracy_reloaded = test_accuracy("sentiment")
print(
    f"sentiment: {accuracy_reloaded:.3f} after reloading, {accuracy_trained['sentiment']:.3f}"
    " right after training"
)

# %% [markdown]
# ## 4. Serve one task with TF Serving
#
# `export_text_classifier` writes a SavedModel whose signature takes **raw
# strings**: the tokenizer is inside the graph. By default the active LoRA update
# is merged into the kernels, so the served model is as fast as the base model.
# TF Serving expects `<model>/<version>/saved_model.pb`, hence the `/1`.

# %%
use_task("subjectivity")
served = export_text_classifier(
    classifier,
    "serving/subjectivity/1",
    label_names=tasks["subjectivity"].label_names,
)
print(sorted(os.listdir(served)))

# %% [markdown]
# A TF Serving client would send `POST /v1/models/subjectivity:predict` with the
# body `{"instances": ["...", "..."]}`. `verify_saved_model` makes the same call in
# a fresh Python process that imports only TensorFlow (Keras, KerasHub and
# keras-adapters are blocked there), and checks that the served logits equal the
# Keras model's. (`keras_adapters.export.call_saved_model` makes the call without
# the check, for any signature.)

# %%
served_outputs = verify_saved_model(
    served, sentences, expected_logits=classifier.predict(sentences, verbose=0), atol=1e-4
)
served_labels = list(served_outputs["label"])
print("labels from the SavedModel:", served_labels)
print("ran in a fresh process without Keras:", served_outputs.fresh_process)

# %% [markdown]
# What to look at: the served labels match the subjectivity predictions of
# section 3, computed by a process that only has TensorFlow.
#
# ## Exercises
#
# 1. Add a third task with a different number of labels (e.g. `fresh` / `rotten`
#    / `plot` from the same file). Why can it not share the `logits` head, and what
#    would you change?
# 2. Subjectivity was learnt from only 160 sentences. Is the length of a sentence
#    a shortcut the model could use? Check the average word count per label.
# 3. Export with `adapters="switchable"` after loading both adapters under
#    different names: which signatures does the SavedModel get
#    (`saved_model_cli show --dir serving/... --all`)?
