"""`adapter_layout_map`: a `keras.distribution.LayoutMap` for an adapted model."""

import keras

from keras_adapters.injection.adapter_state import get_state
from keras_adapters.planning.layer_tree import innermost
from keras_adapters.planning.model_context import ModelContext


def adapter_layout_map(model, device_mesh, model_axis="model"):
    """Shards a model's base weights over one mesh axis and replicates its adapters.

    For `keras.distribution.ModelParallel`. Every base weight of rank 2 or
    more (kernels, embeddings, the task head, `EinsumDense` biases) is split
    along `model_axis` on its largest dimension that the axis size divides
    (the last one on a tie); one with no such dimension, and every rank-1
    weight (`Dense` biases, norms), is replicated. Adapter weights (every
    weight an adapter wrapper holds beyond its base layer's) are replicated
    on every device: they are a small fraction of the model, so each device
    keeps a full copy and their gradients are averaged like data-parallel
    ones.

    Keys are the exact variable paths of `model`, so the map fits a model
    built by the same code; KerasHub names its layers and adapter weights
    live under `<site>/<method>/<adapter name>/`, so those paths repeat
    from one build to the next. Build the model and its adapters once to
    read the paths, then again inside the distribution's scope, where each
    variable takes its layout when it is created.

    Args:
        model: a built `keras.Model`, with or without adapters
            (`keras_adapters.add_adapter`).
        device_mesh: a `keras.distribution.DeviceMesh`.
        model_axis: the name of the mesh axis the base weights are split
            along; one of `device_mesh.axis_names`.

    Returns:
        A `keras.distribution.LayoutMap` on `device_mesh`: exact variable
        path -> `keras.distribution.TensorLayout`.

    Example:
    ```python
    devices = keras.distribution.list_devices()
    mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
    layout_map = keras_adapters.adapter_layout_map(build(), mesh)
    distribution = keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    with distribution.scope():
        model = build()  # the same code: base sharded, adapters replicated
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a `keras.Model`. Received: model={model!r} "
            f"of type {type(model).__name__}."
        )
    if not isinstance(device_mesh, keras.distribution.DeviceMesh):
        raise ValueError(
            "`device_mesh` must be a `keras.distribution.DeviceMesh`. "
            f"Received: device_mesh={device_mesh!r} of type {type(device_mesh).__name__}."
        )
    axis_names = list(device_mesh.axis_names)
    if model_axis not in axis_names:
        raise ValueError(
            f"`model_axis` must name an axis of `device_mesh`. Received: "
            f"model_axis={model_axis!r}; valid: {axis_names}."
        )
    if not model.built or not model.weights:
        raise ValueError(
            f"`model` must be built (its weights give the paths to lay out). "
            f"Received: model={model.name!r} with {len(model.weights)} weights; "
            "call it on a batch or build it first."
        )
    axis_size = device_mesh.shape[axis_names.index(model_axis)]
    adapter_ids = _adapter_weight_ids(model)
    layout_map = keras.distribution.LayoutMap(device_mesh)
    listed = set()  # not `in layout_map`: its lookup matches keys as regexes
    for variable in model.weights:
        if variable.path in listed:
            continue  # a weight shared by several layers is listed once
        listed.add(variable.path)
        shape = tuple(variable.shape)
        axes = [None] * len(shape)
        if id(variable) not in adapter_ids:
            dimension = _split_dimension(shape, axis_size)
            if dimension is None:
                continue  # unlisted: `ModelParallel` replicates it
            axes[dimension] = model_axis
        layout_map[variable.path] = tuple(axes)
    return layout_map


def _split_dimension(shape, axis_size):
    """The largest dimension of a matrix that `axis_size` divides (last on a tie), or `None`."""
    if len(shape) < 2:
        return None
    candidates = [i for i, size in enumerate(shape) if size % axis_size == 0]
    if not candidates:
        return None
    return max(candidates, key=lambda i: (shape[i], i))


def _adapter_weight_ids(model):
    """`id()` of every weight that adapters added to `model` (none without adapters).

    That is every weight of a wrapper but its base layer's: the adapter
    modules' and what a wrapper keeps itself (DoRA's merge norms).
    """
    if get_state(model) is None:
        return set()
    ids = set()
    for _, _, wrapper in ModelContext(model).wrappers():
        base = {id(v) for v in innermost(wrapper).weights}
        ids.update(id(v) for v in wrapper.weights if id(v) not in base)
    return ids
