"""The method registry: config -> `AdapterMethod`, method name -> config class."""

from keras_adapters.methods.adapter_method import AdapterMethod

_METHODS = {}


def register_method(method):
    """Adds a `keras_adapters.methods.AdapterMethod`; one per method name.

    Args:
        method: the record.

    Returns:
        `method`.

    Example:
    ```python
    keras_adapters.methods.register_method(
        keras_adapters.methods.AdapterMethod(
            config_class=MyConfig, find_sites=find_my_sites, build_module=build_my_module
        )
    )
    ```
    """
    if not isinstance(method, AdapterMethod):
        raise ValueError(f"`method` must be an AdapterMethod. Received: method={method!r}")
    if method.name in _METHODS:
        raise ValueError(f"A method named {method.name!r} is already registered.")
    _METHODS[method.name] = method
    return method


def registered_methods():
    """Names of the registered methods, in registration order."""
    return tuple(_METHODS)


def method_for(config):
    """The `AdapterMethod` of a config instance; a clear error for anything else."""
    method = _METHODS.get(getattr(config, "method", None))
    if method is None or not isinstance(config, method.config_class):
        valid = ", ".join(f"keras_adapters.{m.config_class.__name__}" for m in _METHODS.values())
        raise ValueError(f"`config` must be a method config ({valid}). Received: config={config!r}")
    return method


def config_from_dict(config):
    """Rebuilds any registered method config from its `get_config()` dict.

    Example:
    ```python
    config = keras_adapters.LoraConfig(rank=4)
    same = keras_adapters.configs.config_from_dict(config.get_config())
    ```
    """
    method = config.get("method") if isinstance(config, dict) else None
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(
            f"Unknown adapter method {method!r:.80}. Valid methods: {', '.join(_METHODS)}."
        )
    return _METHODS[method].config_class.from_config(config)
