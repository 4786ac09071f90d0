"""`gradient_checkpointing`: recompute each transformer block in the backward pass."""

import keras

from keras_adapters.injection.compiled_model import refresh_compiled
from keras_adapters.planning.model_context import ModelContext

_MARK = "_keras_adapters_rematerialized"


def gradient_checkpointing(model, enabled=True):
    """Turns rematerialisation of every transformer block on or off.

    With it on, the forward pass keeps only each block's inputs; the backward
    pass runs the block again to get the activations it needs. It uses
    Keras' own rematerialisation, `keras.remat` (`tf.recompute_grad` on
    TensorFlow), around each block's `call`. (Keras' `keras.RematScope` on the
    block itself fails inside `fit` on TensorFlow, whose `custom_gradient`
    takes no keyword arguments in a graph; here the block's tensor arguments
    are passed positionally and the others are bound.) Activation memory
    then grows with the number of blocks times one block's input, plus one
    block's activations, instead of every block's activations; each training
    step runs the blocks' forward pass twice. Outputs and gradients do not
    change (adapter weights inside the blocks included), with every method,
    `fit(jit_compile=True)`, mixed precision and a quantised base. Blocks
    with dropout are refused: the recomputed pass would draw other masks
    (build the backbone with `dropout=0`).

    It works on any model `keras_adapters.add_adapter` can adapt (with or
    without adapters). It is a setting of the live layers: a `.keras` file or
    a rebuilt model does not keep it; call it again after loading. Traced
    functions of a compiled model are dropped, so the next `fit` traces with
    the new setting.

    Args:
        model: a KerasHub backbone or task (e.g. a text classifier or causal LM).
        enabled: `True` to recompute the blocks, `False` to store their
            activations again (Keras' default).

    Returns:
        The paths of the blocks, in model order.

    Example:
    ```python
    keras_adapters.gradient_checkpointing(classifier)
    classifier.fit(...)  # less activation memory, one more forward pass per step
    ```
    """
    if not isinstance(enabled, bool):
        raise ValueError(f"`enabled` must be True or False. Received: enabled={enabled!r}")
    blocks = ModelContext(model).blocks
    if enabled:
        _check_no_dropout(blocks)
    trainable_before = [id(v) for v in model.trainable_weights]
    for block in blocks:
        if enabled and not is_rematerialized(block):
            object.__setattr__(block, "call", _rematerialized(block.call))
        elif not enabled and is_rematerialized(block):
            del block.__dict__["call"]  # the class's own `call` again
    refresh_compiled(model, trainable_before)
    return tuple(block.path for block in blocks)


def _check_no_dropout(blocks):
    """Raises if a block drops out: its recomputed pass would draw other masks.

    Keras' rematerialisation on TensorFlow does not replay a block's dropout
    masks in the recomputed pass (restoring the seed states did not make it
    do so in our tests), so the gradients would belong to other masks than
    the loss.
    """
    found = [
        layer.path
        for block in blocks
        for layer in block._flatten_layers()
        if isinstance(layer, keras.layers.Dropout) and layer.rate > 0
    ]
    if found:
        raise ValueError(
            "Gradient checkpointing needs transformer blocks without dropout: the "
            "recomputed pass would draw other dropout masks than the forward pass, so "
            "the gradients would be wrong. Build the backbone with `dropout=0` "
            f"(Received: dropout layers {found[:3]}{' ...' if len(found) > 3 else ''})."
        )


def is_gradient_checkpointing(model):
    """Whether every transformer block of `model` is rematerialised."""
    blocks = ModelContext(model).blocks
    return bool(blocks) and all(is_rematerialized(block) for block in blocks)


def is_rematerialized(block):
    return getattr(block.__dict__.get("call"), _MARK, False)


def _rematerialized(call):
    """`block.call`, recomputed in the backward pass.

    Tensors go through `keras.remat` positionally (the rest is bound).
    """

    def rematerialized_call(*args, **kwargs):
        arguments = dict(enumerate(args), **kwargs)
        keys = [k for k, v in arguments.items() if _is_tensor(v)]
        if any(isinstance(arguments[k], keras.KerasTensor) for k in keys):
            return call(*args, **kwargs)  # symbolic: nothing to recompute

        def inner(*tensors):
            bound = {**arguments, **dict(zip(keys, tensors))}
            positional = [bound[i] for i in range(len(args))]
            return call(*positional, **{k: v for k, v in bound.items() if isinstance(k, str)})

        return keras.remat(inner)(*[arguments[k] for k in keys])

    setattr(rematerialized_call, _MARK, True)
    return rematerialized_call


def _is_tensor(value):
    return value is not None and hasattr(value, "shape") and hasattr(value, "dtype")
