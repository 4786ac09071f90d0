"""Backbone specs: architecture knowledge as data.

The slot vocabulary (`SLOTS`), one `BackboneSpec` record per KerasHub backbone
class, and the bottleneck placements (which slots Houlsby, Pfeiffer and
parallel adapters read and write).
"""

from keras_adapters.specs import decoder_specs as _decoders  # noqa: F401 (registers)
from keras_adapters.specs import transformer_encoder_specs as _encoders  # noqa: F401 (registers)
from keras_adapters.specs.backbone_spec import BackboneSpec
from keras_adapters.specs.bottleneck_placements import BOTTLENECK_PLACEMENTS, bottleneck_sites
from keras_adapters.specs.bottleneck_site import BottleneckSite
from keras_adapters.specs.registry import (
    get_backbone_class_spec,
    get_backbone_spec,
    register_backbone_spec,
    supported_backbones,
)
from keras_adapters.specs.slots import PROJECTION_SLOTS, SLOTS, register_slot
from keras_adapters.specs.transformer_encoder_specs import (
    TRANSFORMER_ENCODER_FFN_CHAIN,
    TRANSFORMER_ENCODER_SLOTS,
)
