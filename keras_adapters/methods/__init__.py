"""Adapter methods: the method protocol, its registry, and one package per method.

Adding a method means adding one package (config, layers, site finder) that
registers one `AdapterMethod`, and importing it below.
"""

from keras_adapters.methods import adalora as _adalora  # noqa: F401 (registers)
from keras_adapters.methods import bottleneck as _bottleneck  # noqa: F401 (registers)
from keras_adapters.methods import dora as _dora  # noqa: F401 (registers)
from keras_adapters.methods import fusion as _fusion  # noqa: F401 (registers)
from keras_adapters.methods import ia3 as _ia3  # noqa: F401 (registers)
from keras_adapters.methods import lora as _lora  # noqa: F401 (registers)
from keras_adapters.methods import mam as _mam  # noqa: F401 (registers)
from keras_adapters.methods import prefix as _prefix  # noqa: F401 (registers)
from keras_adapters.methods import prompt as _prompt  # noqa: F401 (registers)
from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.registry import (
    config_from_dict,
    method_for,
    register_method,
    registered_methods,
)
