"""Name scopes of inserted layers: unique, stable variable paths."""

import contextlib

import keras


@contextlib.contextmanager
def location_scope(location, *more):
    """Name scope `<location>/<more...>`: layers built inside get paths under the site."""
    with contextlib.ExitStack() as stack:
        for part in location.split("/") + list(more):
            stack.enter_context(keras.name_scope(part))
        yield


def adapter_scope(location, method):
    """Name scope `<location>/<method>` for the module of one adapter at one site.

    The module itself is named after the adapter, so its variables get paths
    like `transformer_layer_0/self_attention_layer/query/lora/sentiment/lora_a`:
    unique for every (site, method, adapter) and the same every time the
    adapter is added, which checkpoint tools, `model.get_state_tree()` and
    distribution layout maps rely on.
    """
    return location_scope(location, method)
