"""`keras-adapters export --quantize MODE`: a SavedModel whose frozen base runs in int8/int4."""

import contextlib

QUANTIZE_MODES = ("int8", "int4")


def add_quantize_argument(parser):
    parser.add_argument(
        "--quantize",
        default=None,
        choices=QUANTIZE_MODES,
        help="quantise the frozen base with Keras (keras_adapters.quantize_base) before "
        "exporting: int8 (LoRA merged into the int8 kernels, re-quantised) or int4 "
        "(with --adapters switchable only: int4 kernels are never merged into)",
    )


def check_quantize_argument(mode, adapters, causal):
    """Raises a `ValueError` for a `--quantize` that cannot work, before anything loads."""
    if mode is None:
        return
    if causal:
        raise ValueError(f"`--quantize` is for classifier runs. Received: --quantize={mode}")
    if mode == "int4" and adapters == "merged":
        raise ValueError(
            "An int4 kernel is never merged into: use `--quantize int4 --adapters switchable` "
            "(the LoRA branch stays float32) or `--quantize int8`. "
            "Received: --quantize=int4 --adapters=merged"
        )


def quantize_run_model(model, config, mode):
    """Quantises a rebuilt run's frozen base in `mode` (a no-op for `None`)."""
    import keras_adapters

    if mode is None:
        return
    if config["method"] == "full":
        raise ValueError(
            "`--quantize` quantises the frozen base under an adapter; a `--method full` run "
            f"has no frozen base. Received: --quantize={mode}"
        )
    keras_adapters.quantize_base(model, mode)


@contextlib.contextmanager
def as_exported(model, adapters, mode):
    """The model as the SavedModel computes it, for the verification's expected logits.

    On a quantised base a merged export holds re-quantised kernels, not the
    float adapter branch: the expected logits come from the same merge.
    Yields the largest relative re-quantisation error of a merged kernel
    (`None` when nothing was re-quantised).
    """
    from keras_adapters.core.mergeable_wrapper import MergeableWrapper
    from keras_adapters.export.adapter_views import merged_adapters
    from keras_adapters.planning.model_context import ModelContext

    if mode is None or adapters != "merged":
        yield None
        return
    with merged_adapters(model):
        errors = [
            error
            for _, _, wrapper in ModelContext(model).wrappers()
            if isinstance(wrapper, MergeableWrapper)
            for error in wrapper.merge_errors.values()
        ]
        yield max(errors) if errors else None
