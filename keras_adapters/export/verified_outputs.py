"""`VerifiedOutputs`: a SavedModel's outputs, and the process that computed them."""

import os


class VerifiedOutputs(dict):
    """The outputs `keras_adapters.export.verify_saved_model` got back, by name.

    A plain dict of output name to value, plus `process`: where the values
    were computed, so a caller can check (rather than assume) that they came
    from a fresh interpreter that loaded nothing of KerasHub or keras-adapters.

    Args:
        process: `{"pid", "executable", "loaded_project_modules"}` reported by
            the process that called the SavedModel.
        **outputs: output name -> value.

    Example:
    ```python
    outputs = keras_adapters.export.verify_saved_model("served", ["a fine film"])
    assert outputs.fresh_process
    outputs["label"]  # ["positive"]
    ```
    """

    def __init__(self, process, **outputs):
        super().__init__(**outputs)
        self.process = dict(process)

    @property
    def fresh_process(self):
        """Whether another process, free of KerasHub and keras-adapters, computed them."""
        return self.process.get("pid") != os.getpid() and not self.process.get(
            "loaded_project_modules", ["unknown"]
        )
