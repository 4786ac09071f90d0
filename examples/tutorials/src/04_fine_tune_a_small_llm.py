# ruff: noqa: E402
# %% [markdown]
# # Lesson 4: fine-tuning a small LLM with LoRA
#
# The same `keras_adapters.add_adapter` call that adapted an encoder in lessons 1-3
# works on decoder LLMs. Here we take **SmolLM2-135M-Instruct**, a real chat model
# (135M parameters, Llama architecture), and teach it one narrow skill: read a
# movie review and answer with exactly one word, `positive` or `negative`.
#
# You will
#
# 1. load the model offline and ask it before training,
# 2. measure how often its preferred answer is right (without sampling),
# 3. add LoRA to every linear layer and train on prompt/answer pairs, with the loss
#    on the answer only,
# 4. ask again and compare.
#
# **Time budget.** A 135M-parameter model is about six times larger than MiniLM, so
# this lesson trains on only **32 reviews (8 steps of 4)** and scores **16
# held-out reviews**; it takes a few minutes on 2 cores. That is enough to teach the answer format; the full job
# (`keras-adapters train --task causal-lm`) trains on thousands.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras

import keras_adapters
from keras_adapters.assets import apply_chat_template, load_causal_lm_preset
from keras_adapters.data import load_text_classification
from keras_adapters.models import PromptResponsePreprocessor, score_label_words

keras.utils.set_random_seed(0)
causal_lm = load_causal_lm_preset("smollm2_135m_instruct", sequence_length=96)
print(f"{causal_lm.count_params():,} parameters")

# %% [markdown]
# ## 1. Prompts in the model's chat format
#
# An instruction-tuned model expects its chat template: a system message, the
# user's turn, then the assistant header, after which the model writes.
# `apply_chat_template` renders it; the prompt ends where the answer starts.

# %%
data = load_text_classification("rotten_tomatoes")
label_words = ["negative", "positive"]  # label 0 is "rotten", 1 is "fresh"


def prompt_for(review):
    return apply_chat_template(
        [
            {"role": "system", "content": "You judge movie reviews."},
            {"role": "user", "content": f"{review}\nIs this movie review positive or negative?"},
        ]
    )


train_prompts = [prompt_for(text) for text in data.train.texts[:32]]
train_answers = [label_words[label] for label in data.train.labels[:32]]
test_prompts = [prompt_for(text) for text in data.test.texts[:16]]
test_labels = list(data.test.labels[:16])
print(test_prompts[0])

# %% [markdown]
# ## 2. Before training
#
# Greedy generation shows what the model says. Notice the *form* of the answers.
# (`jit_compile=False` everywhere in this lesson: compiling a 30-block model with
# XLA takes longer on a CPU than this lesson's whole training; for long runs it
# pays off.)

# %%
causal_lm.compile(sampler="greedy", jit_compile=False)


def answers(prompts):
    outputs = causal_lm.generate(prompts, max_length=96)
    # keep what follows the last assistant header: the model's reply
    return [output.rsplit("assistant", 1)[-1].strip() for output in outputs]


shown = test_prompts[:3]
answers_before = answers(shown)
for review, answer in zip(data.test.texts[:3], answers_before):
    print(f"review: {review[:70]!r}\n  model: {answer!r}")

# %% [markdown]
# Free text is hard to grade. `score_label_words` asks a sharper question: after
# the prompt, is the word `positive` or `negative` more likely? That gives an
# accuracy without sampling.

# %%
before = score_label_words(causal_lm, test_prompts, label_words, test_labels)
print(f"before: accuracy {before.accuracy:.3f}, answer perplexity {before.response_perplexity:.2f}")

# %% [markdown]
# ## 3. Add LoRA and train on prompt/answer pairs
#
# `targets="all-linear"` adapts every projection of the 30 blocks: query, key,
# value, output and the three feed-forward matrices. Rank 4 keeps it small.

# %%
report = keras_adapters.add_adapter(
    causal_lm, keras_adapters.LoraConfig(rank=4, alpha=8, targets="all-linear"), "reviews"
)
report_trainable = report.trainable

# %% [markdown]
# `PromptResponsePreprocessor` tokenizes each prompt and answer apart and puts the
# loss on the answer tokens only (and the end-of-turn token after it): the model
# learns to *answer*, not to repeat reviews. The loss is averaged over those
# weighted tokens only (`reduction="mean_with_sample_weight"`); the default average
# over all 96 positions would shrink it, and its gradients, about fifty-fold.

# %%
chat_preprocessor = causal_lm.preprocessor
causal_lm.preprocessor = PromptResponsePreprocessor.from_preprocessor(chat_preprocessor)
causal_lm.compile(
    optimizer=keras.optimizers.AdamW(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    ),
    jit_compile=False,
)
history = causal_lm.fit(
    {"prompts": train_prompts, "responses": train_answers}, batch_size=4, epochs=1, verbose=0
)
causal_lm.preprocessor = chat_preprocessor
losses = history.history["loss"]
print(f"training loss (mean over the 8 steps): {losses[-1]:.3f}")

# %% [markdown]
# ## 4. After training

# %%
after = score_label_words(causal_lm, test_prompts, label_words, test_labels)
print(f"before: accuracy {before.accuracy:.3f}, answer perplexity {before.response_perplexity:.2f}")
print(f"after:  accuracy {after.accuracy:.3f}, answer perplexity {after.response_perplexity:.2f}")

causal_lm.compile(sampler="greedy", jit_compile=False)
answers_after = answers(shown)
scores = {
    "accuracy": (before.accuracy, after.accuracy),
    "perplexity": (before.response_perplexity, after.response_perplexity),
}
for before_answer, after_answer in zip(answers_before, answers_after):
    print(f"before: {before_answer[:60]!r}\n after: {after_answer!r}")

# %% [markdown]
# What to look at: the *answer perplexity* (how surprised the model is by the
# correct one-word answer; 1 would be certain) drops sharply, and the generated
# answers become single words. Whether the accuracy on 16 reviews moves depends on
# the run: 32 training reviews teach the format much faster than the judgement.
#
# ## Exercises
#
# 1. Train on 200 reviews instead of 32 (it takes a few minutes). Does the accuracy
#    move now?
# 2. Compare `targets="all-linear"` with `targets=["query", "value"]`: how many
#    parameters train (`print(report)`) and how does the perplexity change?
# 3. `keras_adapters.disable_adapters(causal_lm)` gives back the original model
#    without deleting the adapter. Use it to show before/after answers side by side
#    from one model.
