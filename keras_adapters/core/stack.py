"""`Stack`: adapters applied one after the other where they share a site."""


class Stack(tuple):
    """Activates adapters so that each one reads what the previous one produced.

    `keras_adapters.set_active_adapters(model, keras_adapters.Stack("lang", "task"))`
    makes both adapters active; where their modules share a site (a
    bottleneck site), the second reads the first's output instead of both
    reading the site's input: `u = z; u = u + A_lang(u); u = u + A_task(u)`,
    and the site adds `u - z`. Methods whose updates add up at a layer
    regardless of order (LoRA, DoRA, IA3, prefix tuning) are unaffected.
    Without a `Stack`, several active adapters at one site each read the
    site's input and their outputs are summed.

    Args:
        *adapter_names: two or more adapter names, in order.

    Example:
    ```python
    keras_adapters.set_active_adapters(model, keras_adapters.Stack("lang", "task"), train=["task"])
    ```
    """

    def __new__(cls, *adapter_names):
        if len(adapter_names) < 2 or not all(isinstance(n, str) for n in adapter_names):
            raise ValueError(
                f"`Stack` takes two or more adapter names. Received: {adapter_names!r}"
            )
        return super().__new__(cls, adapter_names)

    def __repr__(self):
        return f"Stack{tuple.__repr__(self)}"
