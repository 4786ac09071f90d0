"""`keras-adapters predict`: classify texts, answer prompts or find entities with a SavedModel or a run."""

import json
import pathlib
import sys


def add_arguments(parser):
    parser.add_argument(
        "model", help="a SavedModel directory, or a run directory of `keras-adapters train`"
    )
    parser.add_argument(
        "texts", nargs="*", help="texts to classify (default: one per line from stdin)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per text")
    parser.add_argument("--cache-dir", default=None, help="asset cache directory (run directories)")


def run(args):
    texts = list(args.texts) or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise ValueError("No texts to classify: pass them as arguments or one per line on stdin.")
    path = pathlib.Path(args.model)
    answers = None
    entities = _entities(path, texts, args.cache_dir)
    if entities is not None:
        for text, found in zip(texts, entities):
            if args.json:
                print(json.dumps({"text": text, "entities": found}))
            else:
                spans = "; ".join(f"{e['type']}:{e['text']}@{e['start']}" for e in found)
                print(f"{spans or '-'}\t{text}")
        return 0
    if (path / "saved_model.pb").is_file():
        answers = _answers_from_saved_model(path, texts)
        if answers is None:
            labels, probabilities, label_names = _from_saved_model(path, texts)
    elif (path / "run_config.json").is_file():
        answers = _answers_from_run(path, texts, args.cache_dir)
        if answers is None:
            labels, probabilities, label_names = _from_run(path, texts, args.cache_dir)
    else:
        raise FileNotFoundError(
            "`model` must be a SavedModel directory (with saved_model.pb) or a run directory "
            f"(with run_config.json). Received: model={args.model!r}"
        )
    if answers is not None:
        for text, answer in zip(texts, answers):
            print(
                json.dumps({"text": text, "answer": answer}) if args.json else f"{answer}\t{text}"
            )
        return 0
    for text, label, row in zip(texts, labels, probabilities):
        scores = {name: round(float(p), 4) for name, p in zip(label_names, row)}
        if args.json:
            print(json.dumps({"text": text, "label": label, "probabilities": scores}))
        else:
            print(f"{label}\t{max(scores.values()):.3f}\t{text}")
    return 0


def _from_saved_model(path, texts):
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 - registers the tokenizer ops

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = serve(texts=tf.constant(texts))
    labels = [x.decode() for x in outputs["label"].numpy()]
    probabilities = outputs["probabilities"].numpy()
    names = [None] * probabilities.shape[1]
    for label, row in zip(labels, probabilities):
        names[int(np.argmax(row))] = label
    names = [n if n is not None else f"class_{i}" for i, n in enumerate(names)]
    return labels, probabilities, names


def _from_run(path, texts, cache_dir):
    import keras

    from keras_adapters.cli.run_files import load_run_model

    model, config = load_run_model(path, cache_dir)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(texts, verbose=0)))
    names = config["label_names"]
    return [names[i] for i in probabilities.argmax(-1)], probabilities, names


def _answers_from_saved_model(path, texts):
    """Generated answers if the SavedModel generates text (`export_causal_lm`), else None."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 - registers the tokenizer ops

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    if "text" not in serve.structured_outputs:
        return None
    return [x.decode() for x in serve(prompts=tf.constant(texts))["text"].numpy()]


def _answers_from_run(path, texts, cache_dir):
    """For a `--task causal-lm` run: each text in the run's prompt, the model's answer."""
    from keras_adapters.cli import run_files
    from keras_adapters.cli.causal_lm_job import build_prompt

    if not run_files.is_causal_lm(run_files.read_run_config(path)):
        return None
    causal_lm, config = run_files.load_run_model(path, cache_dir)
    causal_lm.compile(sampler="greedy")
    tokenizer, start = causal_lm.preprocessor.tokenizer, int(causal_lm.preprocessor.add_start_token)
    answers = []
    for text in texts:
        prompt = build_prompt(
            text, config["instruction"], config["system_prompt"], config["backbone_preset"]
        )
        length = len(tokenizer(prompt)) + start + config.get("max_new_tokens", 8)
        answers.append(causal_lm.generate(prompt, max_length=length, strip_prompt=True).strip())
    return answers


def _entities(path, texts, cache_dir):
    """For a token classifier (NER SavedModel or run): the entities of each text, else None."""
    from keras_adapters.cli import run_files

    if (path / "saved_model.pb").is_file():
        import tensorflow as tf
        import tensorflow_text  # noqa: F401 - registers the tokenizer ops

        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        if "entity_counts" not in serve.structured_outputs:
            return None
        out = {k: v.numpy() for k, v in serve(texts=tf.constant(texts)).items()}
        return [
            [
                {
                    "type": out["entity_types"][i][j].decode(),
                    "text": out["entity_texts"][i][j].decode(),
                    "start": int(out["entity_starts"][i][j]),
                    "end": int(out["entity_ends"][i][j]),
                }
                for j in range(int(count))
            ]
            for i, count in enumerate(out["entity_counts"])
        ]
    if not (path / run_files.RUN_CONFIG).is_file():
        return None
    if not run_files.is_token_classification(run_files.read_run_config(path)):
        return None
    tagger, _ = run_files.load_run_model(path, cache_dir)
    return tagger.predict_entities(texts)
