"""`MergeableWrapper`: the merge protocol of wrappers whose adapters fold into weights."""

from keras_adapters.core.adapter_wrapper import AdapterWrapper


class MergeableWrapper(AdapterWrapper):
    """Base of wrappers whose adapters can be folded into the base layer's weights.

    A method that can merge (LoRA adds `scale * A B` to a kernel; a scaling
    method would multiply it) implements `merge_adapter` and
    `unmerge_adapter` for one adapter, and `merge_variables` to name the base
    weights a merge changes. This class keeps the bookkeeping every such
    method shares: which adapters are merged, skipping them in `call`
    (`pending_modules`), merging in order and unmerging in reverse order, and
    refusing to remove a merged adapter. A method whose merge can fail for a
    reason known in advance (a kernel it cannot rewrite) says so in
    `check_merge`, which runs for every site before any kernel changes. A
    merge into a quantised kernel re-quantises it; `merge_adapter` then
    returns the relative error that added, kept in `merge_errors`.
    `keras_adapters.merge_adapters`,
    `unmerge_adapters`, the `.keras` round trip and the export views all talk
    to wrappers only through this protocol.

    Args:
        base_layer: the layer being adapted.
        adapters: dict of adapter name to adapter module.
        active_adapters: names of the adapters used in `call`; defaults to all.
        merged_adapters: names whose update is already inside the base weights.
        location: the stable key of this site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    def __init__(
        self, base_layer, adapters=None, active_adapters=None, merged_adapters=(), **kwargs
    ):
        super().__init__(base_layer, adapters=adapters, active_adapters=active_adapters, **kwargs)
        self.merged_adapters = tuple(merged_adapters)
        # adapter name -> relative error its last merge or unmerge added to a
        # quantised kernel (re-quantisation); float kernels add none.
        self.merge_errors = {}

    # === What a mergeable method defines ===

    def merge_variables(self):
        """The base variables that `merge_adapter` changes."""
        raise NotImplementedError

    def merge_adapter(self, name):
        """Folds adapter `name` into the base weights.

        Returns `None`, or the relative error a quantised kernel's
        re-quantisation added.
        """
        raise NotImplementedError

    def unmerge_adapter(self, name):
        """Takes adapter `name` back out of the base weights (returns like `merge_adapter`)."""
        raise NotImplementedError

    def check_merge(self, name):
        """Raises a `ValueError` if adapter `name` cannot be merged here; changes nothing."""
        self.get_adapter(name)

    # === Shared bookkeeping ===

    def merge(self, names=None):
        """Merges `names` (default: the active ones); returns those newly merged."""
        names = self.active_adapters if names is None else names
        names = [n for n in names if n not in self.merged_adapters]
        for name in names:
            self.check_merge(name)  # unknown or unmergeable names raise before any change
        for name in names:
            self._record_error(name, self.merge_adapter(name))
            self.merged_adapters = self.merged_adapters + (name,)
        return tuple(names)

    def unmerge(self):
        """Unmerges every merged adapter, last merged first; returns their names."""
        names = self.merged_adapters
        for name in reversed(names):
            self._record_error(name, self.unmerge_adapter(name))
            self.merged_adapters = tuple(n for n in self.merged_adapters if n != name)
        return names

    def _record_error(self, name, error):
        if error is None:
            self.merge_errors.pop(name, None)
        else:
            self.merge_errors[name] = error

    def pending_modules(self):
        """Active adapters whose update is not inside the base weights."""
        return self.adapter_modules(
            [n for n in self.active_adapters if n not in self.merged_adapters]
        )

    def remove_adapter(self, name):
        if name in self.merged_adapters:
            raise ValueError(
                f"Adapter {name!r} is merged into {self.base_layer.name}; unmerge it first."
            )
        return super().remove_adapter(name)

    def get_config(self):
        config = super().get_config()
        config["merged_adapters"] = list(self.merged_adapters)
        return config
