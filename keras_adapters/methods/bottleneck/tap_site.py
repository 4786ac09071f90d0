"""`TapSite`: a site that also puts a tap on the layer whose input it reads."""

import dataclasses

from keras_adapters.methods.bottleneck.input_tap import InputTap
from keras_adapters.methods.bottleneck.tap_module import TapModule
from keras_adapters.planning.adapter_scope import location_scope
from keras_adapters.planning.site import Site


@dataclasses.dataclass
class TapSite(Site):
    """Inserts the module at the writing layer, and a `TapModule` at the reading one.

    Attributes:
        reader: `(owner, attribute)` of the layer whose input is read.
        reader_location: the reading site's key (it holds no weights).
    """

    reader: tuple = None
    reader_location: str = None

    def insert(self, adapter_name, module):
        with location_scope(self.reader_location):
            tap = TapModule(module, name=adapter_name)
        Site(self.reader_location, *self.reader, InputTap, None).insert(adapter_name, tap)
        return super().insert(adapter_name, module)
