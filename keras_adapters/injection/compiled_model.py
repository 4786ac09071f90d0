"""Keeping a compiled model honest after its adapters change."""

import warnings

import keras


def refresh_compiled(model, trainable_before):
    """Drops traced functions; recompiles if the optimizer knows stale variables.

    Adapter switches are Python-level choices baked into traced functions, so
    every change drops `train_function`/`test_function`/`predict_function`.
    If the trainable variables changed after the optimizer was built, the
    optimizer cannot update the new set: the model is recompiled from its
    compile config (fresh optimizer state), or, if that config cannot be
    rebuilt, marked uncompiled so that `fit` asks for `compile()`.
    """
    for attribute in ("train_function", "test_function", "predict_function"):
        if getattr(model, attribute, None) is not None:
            setattr(model, attribute, None)
    if not getattr(model, "compiled", False):
        return
    trainable_after = [id(v) for v in model.trainable_weights]
    optimizer = getattr(model, "optimizer", None)
    if trainable_after == trainable_before or not getattr(optimizer, "built", False):
        return
    try:
        # Not `compile_from_config`: it skips models whose `compile` is overridden
        # (every KerasHub task), which would leave the stale optimizer in place.
        config = keras.saving.deserialize_keras_object(model.get_compile_config())
        model.compile(**config)
        warnings.warn(
            f"Model {model.name!r} was compiled and trained before its adapters changed; it was "
            "recompiled so that fit() trains the new variables (optimizer state was reset).",
            stacklevel=3,
        )
    except Exception as error:  # noqa: BLE001 - any failure leaves the model uncompiled
        model.compiled = False
        warnings.warn(
            f"Model {model.name!r} must be compiled again after its adapters changed "
            f"(automatic recompilation failed: {error}). Call `model.compile(...)`.",
            stacklevel=3,
        )
