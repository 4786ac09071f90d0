"""`AdapterMethod`: one adapter method, as the rest of keras-adapters sees it."""

import dataclasses

from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True)
class AdapterMethod:
    """The record a method registers: its config, where it goes, what it inserts.

    `keras_adapters.add_adapter` looks the config up in the method registry,
    asks `find_sites` where the method goes (validating everything), builds
    one module per site with `build_module` under a unique name scope, and
    inserts them; lifecycle, saving and export then talk only to the wrappers
    (merging goes through `keras_adapters.layers.MergeableWrapper`, which a
    method's wrapper implements or not).

    Args:
        config_class: the method's config, a `keras_adapters.AdapterConfig`
            subclass whose `method` attribute names the method in files.
        find_sites: `(context, config) -> [Site]`: the sites of the method
            in a model (`keras_adapters.planning.site.Site`, each naming the
            wrapper class to use there). Raises `ValueError` for anything
            invalid; must not change the model.
        build_module: `(config, site, context, name) -> keras.layers.Layer`:
            the built adapter module for one site, weights in float32.
        callbacks: optional `(model, adapter_name, config) -> [Callback]`:
            training-time behaviour between steps or epochs (logging,
            schedules of Python values) that `keras_adapters.training_callbacks`
            hands to `fit`. Loss terms belong in the module's `call`
            (`self.add_loss`), which Keras adds to the training loss.
        gradient_hook: optional `(modules, config, gradients) -> None`: runs
            inside every training step of `fit`, after the gradients are
            computed and before the optimizer applies them, while the adapter
            is active. `modules` are the adapter's modules (one per site, in
            site order) and `gradients` a `keras_adapters.core.gradient_map.GradientMap`
            (read with `get`, replace with `set`). It is traced into the
            compiled step, so it must use `keras.ops` and variable
            assignments only: state that changes from step to step (counters,
            statistics, masks) lives in variables, and changing it never
            retraces. The adapted model's `train_step` calls it (TensorFlow
            backend; see docs/architecture.md).

    Example:
    ```python
    keras_adapters.methods.register_method(
        keras_adapters.methods.AdapterMethod(
            config_class=MyConfig, find_sites=find_my_sites, build_module=build_my_module
        )
    )
    ```
    """

    config_class: type
    find_sites: object
    build_module: object
    callbacks: object = None
    gradient_hook: object = None

    def __post_init__(self):
        if not (
            isinstance(self.config_class, type) and issubclass(self.config_class, AdapterConfig)
        ):
            raise ValueError(
                "`config_class` must be a subclass of keras_adapters.AdapterConfig. "
                f"Received: config_class={self.config_class!r}"
            )
        name = self.config_class.method
        if not isinstance(name, str) or not name.isidentifier() or name == AdapterConfig.method:
            raise ValueError(
                f"`{self.config_class.__name__}.method` must be a Python identifier naming the "
                f"method (not {AdapterConfig.method!r}). Received: method={name!r}"
            )
        for field in ("find_sites", "build_module", "callbacks", "gradient_hook"):
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise ValueError(f"`{field}` must be a function. Received: {field}={value!r}")

    @property
    def name(self):
        return self.config_class.method
