"""`config_for_budget`: the largest config of a method within a trainable-parameter budget."""

import math

from keras_adapters.injection.adapter_plan import plan_adapter

# The one size knob per method; counts are affine in it (a * knob + b).
KNOBS = {
    "lora": "rank",
    "dora": "rank",
    "pfeiffer": "bottleneck_dim",
    "houlsby": "bottleneck_dim",
    "parallel": "bottleneck_dim",
    "mam": "bottleneck_dim",
    "prefix": "num_prefix_tokens",
}


def config_for_budget(model, config, budget):
    """Returns `(config, parameters)`: `config` resized to the largest size within `budget`.

    The method's size knob (LoRA/DoRA `rank`, bottleneck `bottleneck_dim`,
    prefix `num_prefix_tokens`) is set as high as the budget allows; every
    other field of `config` (targets, layers, ...) is kept. The count is the
    exact number of parameters the adapter adds to this model (measured by
    planning it, nothing is inserted), so methods can be compared at equal
    budget. `modules_to_save` are not counted.

    Args:
        model: the model the adapter is for.
        config: a method config whose fields other than the size are kept.
        budget: the most parameters the adapter may add, a positive integer.

    Returns:
        A tuple of the resized config and its exact parameter count.

    Example:
    ```python
    config, count = keras_adapters.config_for_budget(
        classifier, keras_adapters.HoulsbyConfig(), budget=100_000
    )
    ```
    """
    knob = KNOBS.get(getattr(config, "method", None))
    if knob is None:
        raise ValueError(
            f"`config` must be a config of a method with a size knob ({sorted(KNOBS)}). "
            f"Received: config={config!r}"
        )
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"`budget` must be a positive integer. Received: budget={budget!r}")

    def resize(size):
        return config.replace(**{knob: size})

    one, two = _count(model, resize(1)), _count(model, resize(2))
    slope, intercept = two - one, 2 * one - two
    if one > budget:
        raise ValueError(
            f"Even the smallest {config.method} adapter ({knob}=1) adds {one:,} parameters, more than "
            f"the budget. Received: budget={budget:,}"
        )
    size = max(1, math.floor((budget - intercept) / slope))
    while True:
        try:
            count = _count(model, resize(size))
        except ValueError:  # e.g. a bottleneck wider than the hidden size
            size -= 1
            continue
        if count <= budget or size == 1:
            return resize(size), count
        size -= 1


def _count(model, config):
    plan = plan_adapter(model, config, "_budget_probe", activate=False)
    return sum(
        math.prod(variable.shape) for module in plan.modules() for variable in module.weights
    )
