"""Walking the sublayers of a layer through its attributes."""

import keras

from keras_adapters.core.adapter_wrapper import MODULE_PREFIX, AdapterWrapper


def walk(layer):
    """Yields `(owner, attribute, child)` for every sublayer held as an attribute.

    Depth first, outer layers before the layers they wrap, each layer once.
    Adapter modules (the `adapter_<name>` attributes of wrappers) are not
    entered: they are what we insert, never what we target.
    """
    seen = {id(layer)}
    stack = [layer]
    while stack:
        owner = stack.pop()
        children = []
        for attribute, child in vars(owner).items():
            if not isinstance(child, keras.layers.Layer) or id(child) in seen:
                continue
            if isinstance(owner, AdapterWrapper) and attribute.startswith(MODULE_PREFIX):
                continue
            seen.add(id(child))
            children.append((attribute, child))
        for attribute, child in children:
            yield owner, attribute, child
        stack.extend(child for _, child in reversed(children))


def innermost(layer):
    """The layer at the bottom of a stack of wrappers."""
    while isinstance(layer, AdapterWrapper):
        layer = layer.base_layer
    return layer
