"""`IA3Site`: a site that also knows whether IA3 scales the layer's input."""

import dataclasses

from keras_adapters.planning.site import Site


@dataclasses.dataclass
class IA3Site(Site):
    """A `keras_adapters.planning.site.Site` for one IA3 target.

    Attributes:
        feedforward: whether the target matched `IA3Config.feedforward`, so
            its input (not its output) is scaled.
    """

    feedforward: bool = False
