"""`ChainSite`: a site around a feed-forward branch made of several slots."""

import dataclasses

from keras_adapters.core.layer_chain import LayerChain
from keras_adapters.core.moved_slot import MovedSlot
from keras_adapters.core.tracking import set_sublayer
from keras_adapters.planning.site import Site


@dataclasses.dataclass
class ChainSite(Site):
    """A wrapper around a whole branch (a parallel adapter's feed-forward).

    The branch's layers move into a `keras_adapters.layers.LayerChain` under
    their slot names; the first slot then holds the wrapper, the others a
    `keras_adapters.layers.MovedSlot`.

    Attributes:
        chain: `[(slot, owner, attribute)]` of the branch, in call order.
    """

    chain: list = dataclasses.field(default_factory=list)

    def make_wrapper(self, current, adapter_name, module):
        layers = {slot: getattr(owner, attr) for slot, owner, attr in self.chain}
        chain = LayerChain(layers, name="ffn_chain")
        for slot, owner, attr in self.chain[1:]:
            set_sublayer(owner, attr, MovedSlot(slot, name=f"moved_{slot}"))
        return self.wrapper_class(chain, adapters={adapter_name: module}, location=self.location)
