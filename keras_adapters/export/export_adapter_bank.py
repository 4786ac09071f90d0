"""`export_adapter_bank`: one SavedModel serving many LoRA adapters, one per example."""

import contextlib
import pathlib

import keras
import numpy as np
import tensorflow as tf

from keras_adapters.core.validation import check_positive_int
from keras_adapters.export.adapter_bank_layout import (
    BANK_COLLECTION,
    BASE_ADAPTER,
    HEAD_PREFIX,
    NAMES_VARIABLE,
    AdapterBankLayout,
)
from keras_adapters.export.adapter_views import base_with_replaced_layers
from keras_adapters.export.bank_adapter import BankAdapter
from keras_adapters.export.banked_lora_projection import (
    BankedLoraProjection,
    SlotSelection,
    layer_equation,
)
from keras_adapters.export.saved_model_files import (
    check_export_arguments,
    saved_model_directory,
    write_metadata,
)
from keras_adapters.injection.adapter_state import get_state
from keras_adapters.methods.lora.einsum_factorization import factorize_einsum, kernel_axes
from keras_adapters.methods.registry import method_for
from keras_adapters.planning.model_context import ModelContext

INPUT_NAMES = ("texts", "adapter")
OUTPUT_NAMES = ("logits", "probabilities", "label")


def export_adapter_bank(
    model, path, *, label_names, adapters, max_adapters, max_rank, overwrite=False
):
    """Writes a text classifier that serves many LoRA adapters at once, one per example.

    The `serving_default` signature takes `texts` (`tf.string` `[batch]`) and
    `adapter` (`tf.string` `[batch]`: the adapter name of each example; `""`
    selects the base model) and returns `logits` (float32
    `[batch, classes]`), `probabilities` and `label` (`tf.string` `[batch]`),
    each example computed with its own adapter: one batch may mix any of the
    bank's adapters and the base model. A name the bank does not hold fails
    the request with an error naming it.

    For every LoRA site the SavedModel holds banks `A` `[slots, inputs...,
    max_rank]` and `B` `[slots, max_rank, outputs...]` (slot 0 = zeros = the
    base model, each adapter's scale folded into its `B`, ranks below
    `max_rank` zero-padded) and computes `y = x W + b + (x A[s]) B[s]`, `s`
    being each example's slot, with two batched einsums. The classifier head
    is banked the same way (`kernel[s]`, `bias[s]`): adapters saved with
    `modules_to_save` covering the head bring their own copy, the others use
    the model's. Slot names live in a string variable, so
    `keras_adapters.export.add_to_adapter_bank` can fill free slots of a
    copy later without the model. Sizes are fixed, so the graph never
    retraces.

    The bank's sites are all the sites of the given adapters; an adapter
    added later must use some of them. The model is left exactly as it was.

    Args:
        model: the base KerasHub text classifier (with a preprocessor and a
            `Dense` logits head). Adapters it holds are ignored (none may be
            merged): the base slot is the model with no adapter active.
        path: the SavedModel directory to write (for TF Serving, a numbered
            version directory such as `models/sentiment/1`).
        label_names: one string per class, in the order of the logits.
        adapters: LoRA adapter directories written by
            `keras_adapters.save_adapter`: a list (each named by its saved
            name) or a dict of name to directory.
        max_adapters: adapter slots (besides the base model), at least
            `len(adapters)`; the free ones take adapters later.
        max_rank: the rank every adapter is padded to, at least each
            adapter's rank.
        overwrite: replace an existing SavedModel written by keras-adapters.

    Returns:
        The `pathlib.Path` of the SavedModel.

    Example:
    ```python
    keras_adapters.export.export_adapter_bank(
        classifier,
        "models/reviews/1",
        label_names=["negative", "positive"],
        adapters={"films": "adapters/films", "books": "adapters/books"},
        max_adapters=8,
        max_rank=16,
    )
    outputs = keras_adapters.export.call_saved_model(
        "models/reviews/1", {"texts": ["a fine film", "a dull book"], "adapter": ["films", "books"]}
    )
    ```
    """
    label_names = _check_arguments(model, label_names, max_adapters, max_rank, overwrite)
    bank_adapters = _read_adapters(adapters, max_adapters)
    context = ModelContext(model)
    head = _head_layer(model)
    sites = _bank_sites(context, bank_adapters)
    layout = AdapterBankLayout(
        backbone=context.spec.name,
        max_adapters=max_adapters,
        max_rank=max_rank,
        sites={location: _site_shapes(site.layer) for location, site in sites.items()},
        head={variable.path: list(variable.shape) for variable in head.weights},
    )
    base_head = {v.path: np.asarray(v.numpy(), "float32") for v in head.weights}
    values = {
        key: np.zeros(shape, "float32")
        for key, shape in layout.variable_shapes().items()
        if key != NAMES_VARIABLE
    }
    for path_, value in base_head.items():
        values[HEAD_PREFIX + path_][0] = value
    for adapter in bank_adapters:
        slot = layout.check_adapter(adapter)
        for key, value in layout.slot_values(adapter, base_head).items():
            values[key][slot] = value
        layout.place(slot, adapter)
    path = pathlib.Path(path)
    with saved_model_directory(path, overwrite) as directory:
        variables = {
            key: tf.Variable(value, trainable=False, name=f"adapter_bank/{key}")
            for key, value in values.items()
        }
        variables[NAMES_VARIABLE] = tf.Variable(
            layout.names, dtype=tf.string, trainable=False, name=f"adapter_bank/{NAMES_VARIABLE}"
        )
        archive = keras.export.ExportArchive()
        endpoint = archive.add_endpoint(
            "serving_default",
            _serving_function(model, head, sites, variables, label_names),
            input_signature=[tf.TensorSpec([None], tf.string, name=name) for name in INPUT_NAMES],
        )
        endpoint.get_concrete_function()
        archive.add_variable_collection(
            BANK_COLLECTION, [variables[key] for key in layout.variable_keys()]
        )
        archive.track(model.preprocessor)
        archive.write_out(str(directory), verbose=False)
        write_metadata(
            directory,
            model,
            inputs=list(INPUT_NAMES),
            outputs=list(OUTPUT_NAMES),
            label_names=label_names,
            adapters="bank",
            bank=layout.to_json(),
        )
    return path


# === Validation ===


def _check_arguments(model, label_names, max_adapters, max_rank, overwrite):
    check_export_arguments(model, overwrite, "text classifier")
    check_positive_int("max_adapters", max_adapters)
    check_positive_int("max_rank", max_rank)
    if isinstance(label_names, (str, bytes)) or not all(
        isinstance(name, str) for name in (label_names or [None])
    ):
        raise ValueError(
            "`label_names` must be a list of strings, one per class. "
            f"Received: label_names={label_names!r}"
        )
    label_names = list(label_names)
    classes = int(model.outputs[0].shape[-1]) if getattr(model, "outputs", None) else None
    if len(label_names) != classes:
        raise ValueError(
            f"`label_names` must name each of the {classes} classes of {model.name!r}. "
            f"Received: label_names={label_names!r} ({len(label_names)} names)"
        )
    state = get_state(model)
    if state is not None and state.merged:
        raise ValueError(
            f"Adapters {list(state.merged)} are merged into the base weights of {model.name!r}, "
            "so the bank's base slot would not be the base model. Call "
            "`keras_adapters.unmerge_adapters(model)` first."
        )
    return label_names


def _read_adapters(adapters, max_adapters):
    if isinstance(adapters, dict):
        read = [BankAdapter.read(source, name) for name, source in adapters.items()]
    elif isinstance(adapters, (list, tuple)) and adapters:
        read = [BankAdapter.read(source) for source in adapters]
    else:
        raise ValueError(
            "`adapters` must be a non-empty list of adapter directories (written by "
            "`keras_adapters.save_adapter`) or a dict of name to directory. "
            f"Received: adapters={adapters!r}"
        )
    if len(read) > max_adapters:
        raise ValueError(
            f"`max_adapters` must be at least the number of adapters ({len(read)}). "
            f"Received: max_adapters={max_adapters}"
        )
    return read


def _head_layer(model):
    """The `Dense` layer that computes the model's logits."""
    output = model.outputs[0]
    for layer in reversed(model.layers):
        try:
            if layer.output is output:
                break
        except (AttributeError, ValueError):
            continue
    else:
        layer = None
    activation = getattr(layer, "activation", None)
    if (
        type(layer) is not keras.layers.Dense
        or activation not in (None, keras.activations.linear)
        or len(layer.input.shape) != 2
    ):
        raise ValueError(
            "An adapter bank banks the classifier head, which must be a `keras.layers.Dense` "
            "without activation reading one vector per example and computing the model's "
            f"output. Received: {type(layer).__name__} {getattr(layer, 'name', None)!r}"
        )
    return layer


def _bank_sites(context, bank_adapters):
    """`{location: Site}` of every adapter's LoRA sites, checked against its file."""
    sites = {}
    for adapter in bank_adapters:
        if adapter.backbone != context.spec.name:
            raise ValueError(
                f"Adapter {adapter.name!r} ({adapter.source}) was trained on a "
                f"{adapter.backbone}; this model's backbone is a {context.spec.name}."
            )
        found = method_for(adapter.config).find_sites(context, adapter.config)
        locations = {site.location for site in found}
        if locations != set(adapter.factors):
            raise ValueError(
                f"Adapter {adapter.name!r} ({adapter.source}) does not fit this model: its "
                f"config selects the sites {sorted(locations)}, its weights cover "
                f"{sorted(adapter.factors)}."
            )
        for site in found:
            layer_equation(site.layer)
            sites.setdefault(site.location, site)
    return sites


def _site_shapes(layer):
    equation = layer_equation(layer)
    a_shape, b_shape = factorize_einsum(equation).factor_shapes(
        kernel_axes(equation), layer.kernel.shape, 1
    )
    return {"equation": equation, "a_shape": list(a_shape[:-1]), "b_shape": list(b_shape[1:])}


# === Tracing ===


def _serving_function(model, head, sites, variables, label_names):
    """Raw strings and adapter names in, three outputs out, each example with its own adapter."""
    preprocessor = model.preprocessor
    features_model = keras.Model(model.input, head.input)
    selection = SlotSelection()
    replacements = [
        (
            site.owner,
            site.attribute,
            BankedLoraProjection(
                site.layer,
                variables[f"{location}/lora_a"],
                variables[f"{location}/lora_b"],
                selection,
            ),
        )
        for location, site in sites.items()
    ]
    head_kernel = variables[HEAD_PREFIX + head.kernel.path]
    head_bias = variables[HEAD_PREFIX + head.bias.path] if head.bias is not None else None

    def serve(texts, adapter):
        slots = _slots(variables[NAMES_VARIABLE], texts, adapter)
        x = keras.utils.unpack_x_y_sample_weight(preprocessor(texts))[0]
        with base_with_replaced_layers(model, replacements), _selected(selection, slots):
            features = features_model(x, training=False)
        features = tf.cast(features, tf.float32)
        logits = tf.einsum("bi,bio->bo", features, tf.gather(head_kernel, slots))
        if head_bias is not None:
            logits = logits + tf.gather(head_bias, slots)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label": tf.gather(tf.constant(label_names), tf.argmax(logits, axis=-1)),
        }

    return serve


@contextlib.contextmanager
def _selected(selection, slots):
    selection.slots = slots
    try:
        yield
    finally:
        selection.slots = None


def _slots(names, texts, adapter):
    """The bank slot of each example; fails the request on a name the bank does not hold."""
    used = tf.not_equal(names, BASE_ADAPTER)
    hit = tf.logical_and(tf.equal(adapter[:, None], names[None, :]), used[None, :])
    known = tf.logical_or(tf.reduce_any(hit, axis=1), tf.equal(adapter, BASE_ADAPTER))
    unknown = tf.unique(tf.boolean_mask(adapter, tf.logical_not(known)))[0]
    checks = [
        tf.debugging.assert_equal(
            tf.size(adapter),
            tf.size(texts),
            message="`adapter` must hold one adapter name per entry of `texts` "
            '("" for the base model).',
        ),
        tf.debugging.Assert(
            tf.reduce_all(known),
            [
                "Unknown adapter name(s):",
                unknown,
                'Adapters in this bank ("" selects the base model):',
                tf.boolean_mask(names, used),
            ],
            summarize=1000,
        ),
    ]
    with tf.control_dependencies([check for check in checks if check is not None]):
        return tf.argmax(tf.cast(hit, tf.int32), axis=1, output_type=tf.int32)
