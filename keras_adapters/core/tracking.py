"""Adding state to a layer that Keras has already built.

Keras locks a built layer's tracker so that no new variables or sublayers
appear after `build()`. Inserting an adapter is exactly that, so the few places
that do it go through `unlocked`, and nothing else touches the tracker.
"""

import contextlib


@contextlib.contextmanager
def unlocked(layer):
    """Temporarily allows new sublayers on `layer`, restoring the lock after."""
    tracker = getattr(layer, "_tracker", None)
    was_locked = bool(tracker is not None and tracker.locked)
    if was_locked:
        tracker.unlock()
    try:
        yield
    finally:
        if was_locked:
            tracker.lock()


def set_sublayer(owner, attribute, new_layer):
    """Replaces `owner.<attribute>` by `new_layer` (at its place) and stops tracking the old one.

    The old layer usually lives on inside `new_layer` (a wrapper) or comes back
    when a wrapper is removed, so it must not stay counted twice by `owner`.
    """
    old_layer = getattr(owner, attribute)
    layers = getattr(owner, "_layers", None)
    position = _index(layers, old_layer)
    with unlocked(owner):
        tracker = getattr(owner, "_tracker", None)
        if tracker is not None and old_layer is not new_layer:
            tracker.untrack(old_layer)
        setattr(owner, attribute, new_layer)
    # Tracking appends the new layer; put it where the old one was, so that
    # `model.weights` keeps its order (get_weights/set_weights are positional)
    # and removing an adapter restores the original order exactly.
    index = _index(layers, new_layer)
    if position is not None and index is not None and index != position:
        layers.insert(position, layers.pop(index))
    return old_layer


def _index(layers, layer):
    if not isinstance(layers, list):
        return None
    return next((i for i, item in enumerate(layers) if item is layer), None)
