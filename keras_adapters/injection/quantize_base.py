"""`quantize_base`: Keras' int8/int4 quantisation of an adapted model's frozen base."""

import keras

from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.compiled_model import refresh_compiled
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.methods.lora.quantized_kernel import TRAINABLE_MODES
from keras_adapters.planning.layer_tree import innermost
from keras_adapters.planning.model_context import ModelContext

# The layer classes Keras quantises (subclasses implement it themselves or refuse).
QUANTIZABLE = (keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Embedding)


def quantize_base(model, mode="int8", config=None):
    """Quantises the frozen base layers of an adapted model, QLoRA-style.

    Each `Dense`, `EinsumDense` and `Embedding` of the base model whose
    weights are all frozen is quantised in place by Keras
    (`layer.quantize(mode)`): its float kernel becomes an integer kernel and
    a per-channel float scale, and its call runs Keras' quantised arithmetic
    (int8: inputs quantised per token too; int4: kernels packed two per byte).
    Adapter weights stay float32 and trainable, and are never quantised;
    neither are the layers of any adapter's `modules_to_save`, nor any layer
    with a trainable weight. The adapters still start as the identity: the
    adapted model computes what the quantised base computes until they train
    (DoRA's magnitudes, which are column norms of the kernel, are rescaled by
    how much quantisation changed those norms).

    Gradients reach the adapters through the quantised layers (Keras' custom
    gradient uses the dequantised kernel). Adapter files keep their format
    and load onto a float or a quantised base alike. A `.keras` file records
    the quantisation and quantises the same layers again when it loads.
    Merging LoRA, DoRA or IA3 into an int8 kernel re-quantises it and
    `keras_adapters.merge_adapters` returns the error; an int4 kernel is never
    merged into. Which layer types Keras can quantise, and which of our
    methods train on such a base: see docs/scale.md. The base must compute in
    float32 (a mixed-precision model is refused: Keras' quantised layers do
    not train under it on TensorFlow).

    Args:
        model: a model with adapters (`keras_adapters.add_adapter` first).
        mode: `"int8"` or `"int4"`.
        config: optional `keras.quantizers.QuantizationConfig` of that mode
            (e.g. `keras.quantizers.Int4QuantizationConfig(block_size=64)`).

    Returns:
        The paths of the layers quantised, in model order.

    Example:
    ```python
    keras_adapters.add_adapter(
        classifier, keras_adapters.LoraConfig(rank=8, modules_to_save=["logits"]), "task"
    )
    keras_adapters.quantize_base(classifier, "int8")
    ```
    """
    if mode not in TRAINABLE_MODES:
        raise ValueError(f"`mode` must be one of {TRAINABLE_MODES}. Received: mode={mode!r}")
    if config is not None and getattr(config, "mode", None) != mode:
        raise ValueError(
            f"`config` must be a `keras.quantizers.QuantizationConfig` of mode {mode!r}. "
            f"Received: config={config!r}"
        )
    state = require_state(model)
    if state.merged:
        raise ValueError(
            f"Adapters {list(state.merged)} are merged into the base weights; call "
            "`keras_adapters.unmerge_adapters(model)` before quantising the base."
        )
    layers = frozen_base_layers(model, state)
    _check_wrappers(model, layers, mode)
    low = {layer.path: layer.compute_dtype for layer in layers if layer.compute_dtype != "float32"}
    if low:
        # Keras' int8 layers (TensorFlow) return a float32 gradient for bfloat16
        # inputs, which breaks the backward pass; int8 refuses float16 outright.
        raise ValueError(
            "`quantize_base` needs base layers that compute in float32: under a mixed "
            "precision policy Keras' quantised layers do not train (their input gradient "
            "comes back in the wrong dtype). Build the model with the `float32` dtype "
            f"policy. Received: layers computing in {sorted(set(low.values()))}, e.g. "
            f"{list(low)[:3]}"
        )
    trainable_before = [id(v) for v in model.trainable_weights]
    chosen = {id(layer) for layer in layers}
    after = [
        wrapper.prepare_base_quantization()
        for _, _, wrapper in ModelContext(model).wrappers()
        if id(innermost(wrapper)) in chosen
    ]
    quantized = []
    for layer in layers:
        try:
            layer.quantize(mode, config=config)
        except NotImplementedError:
            continue  # a subclass Keras cannot quantise: it stays float
        quantized.append(layer.path)
    for callback in after:
        if callback is not None:
            callback()
    if quantized:
        record = {
            "mode": mode,
            "config": None if config is None else keras.saving.serialize_keras_object(config),
            "paths": quantized,
        }
        state.quantized = tuple(state.quantized) + (record,)
    refresh_compiled(model, trainable_before)
    return tuple(quantized)


def _check_wrappers(model, layers, mode):
    """Raises if a wrapper around one of `layers` cannot work on a `mode` kernel."""
    chosen = {id(layer) for layer in layers}
    for _, _, wrapper in ModelContext(model).wrappers():
        modes = wrapper.quantization_modes
        if modes is not None and mode not in modes and id(innermost(wrapper)) in chosen:
            raise ValueError(
                f"{type(wrapper).__name__} at {wrapper.location!r} works on a base quantised "
                f"to {modes} only. Received: mode={mode!r}"
            )


def frozen_base_layers(model, state):
    """The unquantised layers of Keras' quantisable types that hold only frozen base weights."""
    skip = set()
    for _, _, wrapper in ModelContext(model).wrappers():
        for module in wrapper.adapter_modules():
            skip |= {id(layer) for layer in module._flatten_layers()}
    for config in state.configs.values():
        for layer in modules_to_save_layers(model, config.modules_to_save):
            skip |= {id(sublayer) for sublayer in layer._flatten_layers()}
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=False):
        if id(layer) in seen or id(layer) in skip or not isinstance(layer, QUANTIZABLE):
            continue
        seen.add(id(layer))
        if layer.built and layer.quantization_mode is None and layer.weights:
            if not any(variable.trainable for variable in layer.weights):
                found.append(layer)
    return found


def replay_quantization(model, records):
    """Quantises again, on a freshly built model, the layers `records` name.

    Layers that are already quantised (a KerasHub backbone rebuilds its own
    quantised layers from its `DTypePolicyMap`) are left as they are.
    """
    if not records:
        return
    by_path = {layer.path: layer for layer in model._flatten_layers(include_self=False)}
    for record in records:
        config = record.get("config")
        config = None if config is None else keras.saving.deserialize_keras_object(config)
        for path in record["paths"]:
            layer = by_path.get(path)
            if layer is None:
                raise ValueError(
                    f"The saved model quantised layer {path!r}, which the rebuilt model lacks."
                )
            if layer.quantization_mode is None:
                layer.quantize(record["mode"], config=config)
    require_state(model).quantized = tuple(dict(record) for record in records)
