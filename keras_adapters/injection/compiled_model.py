"""Keeping a compiled model honest after its adapters change."""

import pathlib
import sys
import warnings

import keras

_PACKAGE_DIR = str(pathlib.Path(__file__).resolve().parents[1])


def refresh_compiled(model, trainable_before):
    """Drops traced functions; recompiles if the optimizer cannot train the new set.

    Adapter switches are Python-level choices baked into traced functions, so
    every change drops `train_function`/`test_function`/`predict_function` and
    a KerasHub `CausalLM`'s `generate_function` (else `generate()` would keep
    running the previous adapter set).
    If a variable that now trains is unknown to the built optimizer (a new
    adapter, or another adapter made active), the optimizer cannot update it:
    the model is recompiled from its compile config (fresh optimizer state),
    or, if that config cannot be rebuilt, marked uncompiled so that `fit` asks
    for `compile()`. Changes that only shrink the trainable set (merge,
    disable) keep the optimizer and its state.
    """
    for attribute in ("train_function", "test_function", "predict_function", "generate_function"):
        if getattr(model, attribute, None) is not None:
            setattr(model, attribute, None)
    if not getattr(model, "compiled", False):
        return
    optimizer = getattr(model, "optimizer", None)
    if not getattr(optimizer, "built", False) or _optimizer_can_train(
        model, optimizer, trainable_before
    ):
        return
    try:
        # Not `compile_from_config`: it skips models whose `compile` is overridden
        # (every KerasHub task), which would leave the stale optimizer in place.
        config = keras.saving.deserialize_keras_object(model.get_compile_config())
        model.compile(**config)
        warnings.warn(
            f"Model {model.name!r} was compiled and trained before its adapters changed; it was "
            "recompiled so that fit() trains the new variables (optimizer state was reset).",
            stacklevel=_caller_outside_package(),
        )
    except Exception as error:  # noqa: BLE001 - any failure leaves the model uncompiled
        model.compiled = False
        warnings.warn(
            f"Model {model.name!r} must be compiled again after its adapters changed "
            f"(automatic recompilation failed: {error}). Call `model.compile(...)`.",
            stacklevel=_caller_outside_package(),
        )


def _optimizer_can_train(model, optimizer, trainable_before):
    """Whether the built optimizer can apply gradients to the current trainable set."""
    after = [id(v) for v in model.trainable_weights]
    built_with = getattr(optimizer, "_trainable_variables", None)
    if built_with is None:
        return after == trainable_before
    known = {id(v) for v in built_with}
    if keras.config.backend() == "tensorflow":
        return set(after) <= known  # TF applies gradients to any known subset
    return set(after) == known  # stateless backends need exactly the built set


def _caller_outside_package():
    """The `stacklevel` of the first frame outside keras-adapters (the user's call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
