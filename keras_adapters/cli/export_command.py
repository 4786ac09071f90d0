"""`keras-adapters export`: a SavedModel for TF Serving from a training run."""

import pathlib

from keras_adapters.cli import run_files


def add_arguments(parser):
    parser.add_argument("run_dir", help="a directory written by `keras-adapters train`")
    parser.add_argument(
        "--output", default=None, help="SavedModel directory (default: RUN_DIR/saved_model)"
    )
    parser.add_argument(
        "--adapters",
        default="merged",
        choices=("merged", "switchable"),
        help="merged: LoRA folded into the base weights (default); switchable: unmerged, "
        "one signature per adapter",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing SavedModel")
    parser.add_argument("--cache-dir", default=None, help="asset cache directory")
    parser.add_argument(
        "--no-verify", dest="verify", action="store_false", help="skip the fresh-process check"
    )


def run(args):
    from keras_adapters.export import export_text_classifier, verify_saved_model
    from keras_adapters.saving.atomic_directory import check_replaceable

    run_files.read_run_config(args.run_dir)
    output = pathlib.Path(args.output or pathlib.Path(args.run_dir) / run_files.SAVED_MODEL_DIR)
    check_replaceable(output, args.overwrite, "saved_model.pb", "--output")
    model, config = run_files.load_run_model(args.run_dir, args.cache_dir)
    export_text_classifier(
        model, output, label_names=config["label_names"], adapters=args.adapters, overwrite=True
    )
    print(f"Exported {output} ({args.adapters}).")
    if args.verify:
        texts = ["a gripping, funny and moving film", "dull, predictable and far too long"]
        expected = model.predict(texts, verbose=0)
        verify_saved_model(output, texts, expected_logits=expected, atol=1e-5)
        print("Verified: a fresh TensorFlow process gives the Keras model's logits.")
    return 0
