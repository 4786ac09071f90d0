"""`keras-adapters train --task causal-lm`: instruction-tune a decoder LLM on labelled text.

Each labelled text becomes a chat prompt ("<text> Is this movie review
positive or negative?") whose answer is the label's word. The model is scored
before and after training by the likelihood of each label word as the answer
(no sampling), trained with the loss on the answer only, then saved, exported
as a text-generating SavedModel and checked in a fresh process.
"""

import json
import math
import os
import time

from keras_adapters.cli import run_files
from keras_adapters.cli.method_configs import with_schedule
from keras_adapters.cli.resumable_fit import epoch_order, resumable_fit
from keras_adapters.cli.run_directory import STATUS, RunDirectory, data_fingerprint
from keras_adapters.cli.training_curve import plot_training_curve

# Per data preset: label name -> answer word, the question, the system prompt.
PRESET_TASKS = {
    "rotten_tomatoes": (
        {"rotten": "negative", "fresh": "positive"},
        "Is this movie review positive or negative?",
        "You judge movie reviews.",
    ),
}
GENERIC_INSTRUCTION = "Answer with one of: {words}."
GENERIC_SYSTEM = "You label texts."
SAMPLES = 4


def add_causal_lm_arguments(parser):
    group = parser.add_argument_group("--task causal-lm")
    group.add_argument(
        "--label-words",
        default=None,
        help="answer word per label, e.g. 'rotten=negative,fresh=positive' (default: the "
        "preset's, else the label names)",
    )
    group.add_argument("--instruction", default=None, help="the question after each text")
    group.add_argument("--system-prompt", default=None, help="the chat's system message")
    group.add_argument(
        "--eval-examples",
        type=int,
        default=400,
        help="test examples scored before and after training, 0 for the whole test split "
        "(default: 400)",
    )
    group.add_argument(
        "--max-new-tokens",
        type=int,
        default=8,
        help="new tokens of the sample answers and of the exported SavedModel (default: 8)",
    )


def task_texts(args, data):
    """`(label_words, instruction, system prompt)` for the data set and flags."""
    words, instruction, system = PRESET_TASKS.get(args.data, ({}, None, GENERIC_SYSTEM))
    words = dict(words)
    if args.label_words:
        try:
            words = dict(pair.split("=", 1) for pair in args.label_words.split(","))
        except ValueError:
            raise ValueError(
                "`--label-words` must look like 'label=word,label=word'. "
                f"Received: --label-words={args.label_words!r}"
            ) from None
    label_words = [words.get(name, name).strip() for name in data.label_names]
    unknown = sorted(set(words) - set(data.label_names))
    if unknown or len(set(label_words)) != len(label_words) or not all(label_words):
        raise ValueError(
            f"`--label-words` must give distinct, non-empty words for the labels "
            f"{list(data.label_names)}. Received: {words} (unknown labels: {unknown})"
        )
    instruction = (
        args.instruction or instruction or GENERIC_INSTRUCTION.format(words=", ".join(label_words))
    )
    return label_words, instruction, args.system_prompt or system


def build_prompt(text, instruction, system, preset):
    """The chat prompt for one text, ending where the answer starts."""
    from keras_adapters.assets import apply_chat_template
    from keras_adapters.assets.chat_template import CHAT_TEMPLATES

    if preset in CHAT_TEMPLATES:
        return apply_chat_template(
            [
                {"role": "system", "content": system},
                {"role": "user", "content": f"{text}\n{instruction}"},
            ],
            preset=preset,
        )
    return f"{text}\n{instruction}\nAnswer: "


def train_causal_lm(args, config, output_dir):
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_adapters
    from keras_adapters.assets import load_causal_lm_preset
    from keras_adapters.data import load_text_classification
    from keras_adapters.models import PromptResponsePreprocessor
    from keras_adapters.saving.atomic_directory import atomic_directory

    _check_flags(args)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    data = load_text_classification(
        args.data,
        text_column=args.text_column,
        label_column=args.label_column,
        seed=args.split_seed,
        cache_dir=args.cache_dir,
        data_dir=args.data_dir,
    )
    print(data.summary())
    label_words, instruction, system = task_texts(args, data)
    causal_lm = load_causal_lm_preset(
        args.backbone, cache_dir=args.cache_dir, sequence_length=args.sequence_length
    )
    _check_tokenizer(causal_lm)
    limit = args.train_examples or len(data.train.texts)
    train_texts, train_labels = data.train.texts[:limit], data.train.labels[:limit]
    evaluated = args.eval_examples or len(data.test.texts)
    test_texts, test_labels = data.test.texts[:evaluated], data.test.labels[:evaluated]
    prompt = lambda text: build_prompt(text, instruction, system, args.backbone)  # noqa: E731
    train_prompts, test_prompts = [prompt(t) for t in train_texts], [prompt(t) for t in test_texts]
    _check_lengths(causal_lm, train_prompts + test_prompts, label_words, args.sequence_length)
    print(f"Prompt: {test_prompts[0]!r} -> {label_words[test_labels[0]]!r}")

    run = RunDirectory(output_dir)
    run.start(args, data_fingerprint(train_texts, train_labels))
    print(f"Scoring {len(test_prompts)} held-out prompts before training...")
    before = run.remembered(
        "zero_shot", lambda: _score(causal_lm, test_prompts, label_words, test_labels)
    )
    print(
        f"  accuracy {before['accuracy']:.4f}, answer perplexity {before['response_perplexity']:.3f}"
    )

    steps_per_epoch = math.ceil(len(train_labels) / args.batch_size)
    steps = steps_per_epoch * args.epochs
    config = with_schedule(config, steps)
    if config is None:
        trainable = sum(math.prod(v.shape) for v in causal_lm.trainable_weights)
        total = sum(math.prod(v.shape) for v in causal_lm.weights)
        print(f"full fine-tuning: trainable {trainable:,} of {total:,} parameters (100%)")
    else:
        report = keras_adapters.add_adapter(causal_lm, config, run_files.ADAPTER_NAME)
        trainable, total = report.trainable, report.total
    preprocessor = causal_lm.preprocessor
    pairs = PromptResponsePreprocessor.from_preprocessor(preprocessor, response_only=True)
    answers = [label_words[label] for label in train_labels]

    def train_epoch(epoch):
        order = epoch_order(len(answers), args.seed, epoch)
        examples = {
            "prompts": [train_prompts[i] for i in order],
            "responses": [answers[i] for i in order],
        }
        return (
            tf.data.Dataset.from_tensor_slices(examples)
            .batch(args.batch_size)
            .map(pairs, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )

    warmup = max(1, steps // 16)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, steps - warmup),
        warmup_target=args.learning_rate,
        warmup_steps=warmup,
    )
    causal_lm.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=args.xla,
    )
    causal_lm.preprocessor = None  # the dataset is already tokenized and packed
    fit_started = time.time()
    try:
        steps_log, resumed_from = resumable_fit(
            causal_lm,
            train_epoch,
            run,
            epochs=args.epochs,
            steps_per_epoch=steps_per_epoch,
            every=args.checkpoint_every,
            verbose=args.verbose,
        )
    finally:
        causal_lm.preprocessor = preprocessor
    train_seconds = time.time() - fit_started

    print(f"Scoring {len(test_prompts)} held-out prompts after training...")
    after = _score(causal_lm, test_prompts, label_words, test_labels)
    print(
        f"  accuracy {after['accuracy']:.4f}, answer perplexity {after['response_perplexity']:.3f}"
    )
    causal_lm.compile(sampler="greedy")
    samples = _samples(causal_lm, test_prompts[:SAMPLES], args.max_new_tokens)

    # Replaces the directory of the run (its status.json and checkpoint) in one rename.
    with atomic_directory(output_dir, marker=STATUS) as tmp:
        if config is None:
            causal_lm.save_weights(tmp / run_files.FULL_WEIGHTS)
        else:
            if config.folded() is not None:
                keras_adapters.eject_prefix(causal_lm, run_files.ADAPTER_NAME)
            keras_adapters.save_adapter(causal_lm, tmp / run_files.ADAPTER_DIR)
        export_started = time.time()
        exported = _export_and_verify(causal_lm, tmp / run_files.SAVED_MODEL_DIR, samples, args)
        export_seconds = time.time() - export_started
        run_files.write_run_config(
            tmp,
            task=args.task,
            backbone_preset=args.backbone,
            sequence_length=args.sequence_length,
            label_names=list(data.label_names),
            label_words=label_words,
            instruction=instruction,
            system_prompt=system,
            max_new_tokens=args.max_new_tokens,
            method=args.method,
            adapter_name=run_files.ADAPTER_NAME,
            adapter_config=None if config is None else config.get_config(),
            data_source=args.data,
            seed=args.seed,
            split_seed=args.split_seed,
        )
        curve_history = steps_log.history
        title = f"{args.method} on {args.backbone} / {args.data} (answer tokens)"
        plot_training_curve(steps_log.steps, curve_history, tmp / run_files.CURVE, title)
        majority = np.bincount(test_labels, minlength=len(label_words)).max() / len(test_labels)
        metrics = {
            "task": args.task,
            "method": args.method,
            "backbone": args.backbone,
            "data": args.data,
            "label_words": label_words,
            "train_examples": len(answers),
            "eval_examples": len(test_prompts),
            "test_split_examples": len(data.test.texts),
            "sequence_length": args.sequence_length,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
            "split_seed": args.split_seed,
            "xla": args.xla,
            "mixed_precision": args.mixed_precision,
            "adapter_config": None if config is None else config.get_config(),
            "trainable_parameters": int(trainable),
            "total_parameters": int(total),
            "trainable_percent": 100.0 * trainable / total,
            "history": curve_history,
            "steps": steps_log.steps,
            "zero_shot_accuracy": before["accuracy"],
            "test_accuracy": after["accuracy"],
            "zero_shot_answer_perplexity": before["response_perplexity"],
            "answer_perplexity": after["response_perplexity"],
            "majority_class_accuracy": float(majority),
            "samples": samples,
            "train_seconds": train_seconds,
            "resumed_from_step": resumed_from,
            "export_seconds": export_seconds,
            "export": exported,
            "label_names": list(data.label_names),
            "cpu_count": os.cpu_count(),
            "total_seconds": time.time() - started,
        }
        (tmp / run_files.METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    _print_summary(metrics, output_dir)
    return 0


def _check_flags(args):
    for name in ("eval_examples", "max_new_tokens"):
        value = getattr(args, name)
        if value < 0 or (name == "max_new_tokens" and value == 0):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"`{flag}` must be a positive integer. Received: {flag}={value}")


def _check_tokenizer(causal_lm):
    tokenizer, backbone = causal_lm.preprocessor.tokenizer, causal_lm.backbone
    if tokenizer.vocabulary_size() > backbone.vocabulary_size:
        raise ValueError(
            f"The tokenizer has {tokenizer.vocabulary_size()} tokens but the model's embedding "
            f"holds {backbone.vocabulary_size}: they do not belong together."
        )


def _check_lengths(causal_lm, prompts, label_words, sequence_length):
    """Every prompt with its longest answer must fit; say which do not, before any work."""
    preprocessor = causal_lm.preprocessor
    tokenizer = preprocessor.tokenizer
    extra = int(preprocessor.add_start_token) + int(preprocessor.add_end_token)
    answer = max(len(tokenizer(w)) for w in label_words) + extra
    # Packed to `sequence_length + 1` tokens, shifted by one into inputs and labels.
    lengths = [len(tokenizer(p)) + answer - 1 for p in prompts]
    too_long = [n for n in lengths if n > sequence_length]
    if too_long:
        raise ValueError(
            f"{len(too_long)} of {len(prompts)} prompts with their answer do not fit in "
            f"--sequence-length {sequence_length} (the longest needs {max(too_long)} tokens). "
            f"Pass --sequence-length {max(too_long)} or more."
        )


def _score(causal_lm, prompts, label_words, labels):
    from keras_adapters.models import score_label_words

    scores = score_label_words(causal_lm, prompts, label_words, labels)
    return {"accuracy": scores.accuracy, "response_perplexity": scores.response_perplexity}


def _samples(causal_lm, prompts, max_new_tokens):
    """Greedy answers to a few held-out prompts, the way `generate()` gives them."""
    tokenizer = causal_lm.preprocessor.tokenizer
    answers = []
    for prompt in prompts:
        length = len(tokenizer(prompt)) + int(causal_lm.preprocessor.add_start_token)
        answer = causal_lm.generate(prompt, max_length=length + max_new_tokens, strip_prompt=True)
        answers.append({"prompt": prompt, "answer": answer})
    return answers


def _export_and_verify(causal_lm, path, samples, args):
    from keras_adapters.export import call_saved_model, export_causal_lm

    export_causal_lm(
        causal_lm,
        path,
        max_length=args.sequence_length + args.max_new_tokens,
        max_new_tokens=args.max_new_tokens,
    )
    prompts = [s["prompt"] for s in samples]
    outputs = call_saved_model(path, {"prompts": prompts})
    expected = [s["answer"] for s in samples]
    if outputs["text"] != expected:
        raise AssertionError(
            "The SavedModel's answers differ from generate()'s: "
            f"{outputs['text']!r} != {expected!r}"
        )
    return {
        "verified_in_fresh_process": outputs.fresh_process,
        "verifier_process": outputs.process,
        "prompts": len(prompts),
        "answers_equal_generate": True,
    }


def _print_summary(metrics, output_dir):
    print(
        f"\n{metrics['method']} on {metrics['backbone']}: held-out accuracy "
        f"{metrics['test_accuracy']:.4f} (zero-shot {metrics['zero_shot_accuracy']:.4f}, majority "
        f"class {metrics['majority_class_accuracy']:.4f}); answer perplexity "
        f"{metrics['answer_perplexity']:.3f} (zero-shot {metrics['zero_shot_answer_perplexity']:.3f}); "
        f"trained {metrics['trainable_parameters']:,} parameters in {metrics['train_seconds']:.0f} s; "
        f"total {metrics['total_seconds']:.0f} s."
    )
    for sample in metrics["samples"]:
        print(f"  {sample['prompt'][-60:]!r} -> {sample['answer']!r}")
    print("SavedModel verified in a fresh TensorFlow process (answers equal generate()).")
    print(
        f"Wrote {output_dir}/: adapter/ (or model weights), metrics.json, training_curve.png, saved_model/"
    )
