"""`Site`: one place in a block where a method puts one adapter module."""

import dataclasses

from keras_adapters.core.tracking import set_sublayer
from keras_adapters.planning.adapter_scope import location_scope


@dataclasses.dataclass
class Site:
    """Puts modules into a `wrapper_class` wrapper at `owner.<attribute>`.

    If that attribute already holds a wrapper of that class, or the layer is
    already the base of one, the module joins it; otherwise a new wrapper is
    built around what is there.

    Attributes:
        location: the site's key in adapter files, e.g.
            `"transformer_layer_0/self_attention_layer/query"`.
        owner: the layer whose attribute holds the site.
        attribute: the attribute name.
        wrapper_class: the wrapper the method needs at the site.
        layer: the layer being adapted (under any wrappers), for shapes.
    """

    location: str
    owner: object
    attribute: str
    wrapper_class: type
    layer: object

    def insert(self, adapter_name, module):
        """Adds `module` under `adapter_name`; returns the wrapper holding it."""
        current = getattr(self.owner, self.attribute)
        if isinstance(current, self.wrapper_class):
            current.add_adapter(adapter_name, module)
            return current
        if isinstance(self.owner, self.wrapper_class) and self.attribute == "base_layer":
            self.owner.add_adapter(adapter_name, module)
            return self.owner
        with location_scope(self.location):
            wrapper = self.make_wrapper(current, adapter_name, module)
        set_sublayer(self.owner, self.attribute, wrapper)
        return wrapper

    def make_wrapper(self, current, adapter_name, module):
        return self.wrapper_class(current, adapters={adapter_name: module}, location=self.location)
