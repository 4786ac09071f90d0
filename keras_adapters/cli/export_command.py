"""`keras-adapters export`: a SavedModel for TF Serving from a training run."""

import pathlib

from keras_adapters.cli import run_files
from keras_adapters.cli.quantize_option import (
    add_quantize_argument,
    as_exported,
    check_quantize_argument,
    quantize_run_model,
)


def add_arguments(parser):
    parser.add_argument("run_dir", help="a directory written by `keras-adapters train`")
    parser.add_argument(
        "--output", default=None, help="SavedModel directory (default: RUN_DIR/saved_model)"
    )
    parser.add_argument(
        "--adapters",
        default="merged",
        choices=("merged", "switchable", "unmerged"),
        help="merged: LoRA folded into the base weights (default); switchable (classifiers): "
        "unmerged, one signature per adapter; unmerged (causal LMs): adapters as they are",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing SavedModel")
    add_quantize_argument(parser)
    parser.add_argument("--cache-dir", default=None, help="asset cache directory")
    parser.add_argument(
        "--no-verify", dest="verify", action="store_false", help="skip the fresh-process check"
    )


def run(args):
    from keras_adapters.export import export_text_classifier, verify_saved_model
    from keras_adapters.saving.atomic_directory import check_replaceable

    config = run_files.read_run_config(args.run_dir)
    causal = run_files.is_causal_lm(config)
    tagger = run_files.is_token_classification(config)
    valid = ("merged", "unmerged") if causal or tagger else ("merged", "switchable")
    if args.adapters not in valid:
        raise ValueError(
            f"`--adapters` must be one of {list(valid)} for this run ({config.get('task', 'text-classification')}). "
            f"Received: --adapters={args.adapters}"
        )
    output = pathlib.Path(args.output or pathlib.Path(args.run_dir) / run_files.SAVED_MODEL_DIR)
    check_replaceable(output, args.overwrite, "saved_model.pb", "--output")
    check_quantize_argument(args.quantize, args.adapters, causal)
    model, config = run_files.load_run_model(args.run_dir, args.cache_dir)
    quantize_run_model(model, config, args.quantize)
    if causal:
        return _export_causal_lm(model, config, output, args)
    if tagger:
        return _export_token_classifier(model, output, args)
    export_text_classifier(
        model, output, label_names=config["label_names"], adapters=args.adapters, overwrite=True
    )
    quantized = f", base {args.quantize}" if args.quantize else ""
    print(f"Exported {output} ({args.adapters}{quantized}).")
    if args.verify:
        texts = ["a gripping, funny and moving film", "dull, predictable and far too long"]
        with as_exported(model, args.adapters, args.quantize) as error:
            expected = model.predict(texts, verbose=0)
        if error is not None:
            print(
                f"Merging into the {args.quantize} kernels re-rounded them: {error:.2e} relative."
            )
        verify_saved_model(output, texts, expected_logits=expected, atol=1e-5)
        print("Verified: a fresh TensorFlow process gives the Keras model's logits.")
    return 0


def _export_token_classifier(tagger, output, args):
    from keras_adapters.cli.token_classification_job import VERIFY_TEXTS, export_and_verify
    from keras_adapters.export import export_token_classifier

    if not args.verify:
        export_token_classifier(tagger, output, adapters=args.adapters, overwrite=True)
        print(f"Exported {output} ({args.adapters}).")
        return 0
    export_and_verify(tagger, output, VERIFY_TEXTS, atol=1e-4, adapters=args.adapters)
    print(f"Exported {output} ({args.adapters}); verified: a fresh TensorFlow process gives")
    print("the Keras model's entities and logits.")
    return 0


def _export_causal_lm(causal_lm, config, output, args):
    from keras_adapters.cli.causal_lm_job import build_prompt
    from keras_adapters.export import call_saved_model, export_causal_lm

    new_tokens = config.get("max_new_tokens", 8)
    export_causal_lm(
        causal_lm,
        output,
        max_length=config["sequence_length"] + new_tokens,
        max_new_tokens=new_tokens,
        adapters=args.adapters,
        overwrite=True,
    )
    print(f"Exported {output} ({args.adapters}).")
    if args.verify:
        causal_lm.compile(sampler="greedy")
        texts = ["a gripping, funny and moving film", "dull, predictable and far too long"]
        prompts = [
            build_prompt(
                t, config["instruction"], config["system_prompt"], config["backbone_preset"]
            )
            for t in texts
        ]
        tokenizer = causal_lm.preprocessor.tokenizer
        start = int(causal_lm.preprocessor.add_start_token)
        expected = [
            causal_lm.generate(
                p, max_length=len(tokenizer(p)) + start + new_tokens, strip_prompt=True
            )
            for p in prompts
        ]
        outputs = call_saved_model(output, {"prompts": prompts})
        if outputs["text"] != expected:
            raise AssertionError(
                f"The SavedModel answers {outputs['text']!r}, generate() {expected!r}."
            )
        print("Verified: a fresh TensorFlow process gives generate()'s answers.")
    return 0
