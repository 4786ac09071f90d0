"""`Insertion`: one adapter module about to be placed at one site."""

import contextlib
import dataclasses

import keras

from keras_adapters.layers.layer_chain import LayerChain
from keras_adapters.layers.layer_chain import MovedSlot
from keras_adapters.layers.parallel_adapter_site import ParallelAdapterSite
from keras_adapters.layers.tracking import set_sublayer


@contextlib.contextmanager
def scoped(location):
    """Name scope `a/b/c` for variables created for the site at `location`."""
    with contextlib.ExitStack() as stack:
        for part in location.split("/"):
            stack.enter_context(keras.name_scope(part))
        yield


@dataclasses.dataclass
class Insertion:
    """Puts `module` into the `wrapper_class` wrapper at `owner.<attribute>`.

    If that attribute already holds a wrapper of that class, the module joins
    it; otherwise a new wrapper is built around what is there.

    Attributes:
        location: the site's key in adapter files.
        owner: the layer whose attribute holds the site.
        attribute: the attribute name.
        wrapper_class: the wrapper this method needs at the site.
        module: the built adapter module.
    """

    location: str
    owner: object
    attribute: str
    wrapper_class: type
    module: object

    def apply(self, adapter_name):
        current = getattr(self.owner, self.attribute)
        if isinstance(current, self.wrapper_class):
            current.add_adapter(adapter_name, self.module)
            return current
        with scoped(self.location):
            wrapper = self.make_wrapper(current, adapter_name)
        set_sublayer(self.owner, self.attribute, wrapper)
        return wrapper

    def make_wrapper(self, current, adapter_name):
        return self.wrapper_class(
            current, adapters={adapter_name: self.module}, location=self.location
        )


@dataclasses.dataclass
class ChainInsertion(Insertion):
    """A parallel adapter around a feed-forward branch made of several slots.

    The branch's layers move into a `LayerChain` under their slot names; the
    first slot then holds the `ParallelAdapterSite`, the others a `MovedSlot`.

    Attributes:
        chain_sites: `[(slot, owner, attribute)]` of the branch, in call order.
    """

    chain_sites: list = dataclasses.field(default_factory=list)

    def make_wrapper(self, current, adapter_name):
        chain = LayerChain(
            {slot: getattr(owner, attr) for slot, owner, attr in self.chain_sites},
            name="ffn_chain",
        )
        for slot, owner, attr in self.chain_sites[1:]:
            set_sublayer(owner, attr, MovedSlot(slot, name=f"moved_{slot}"))
        return ParallelAdapterSite(
            chain, adapters={adapter_name: self.module}, location=self.location
        )

