"""`IA3Config`: learned vectors that rescale activations (Liu et al. 2022)."""

import dataclasses

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class IA3Config(AdapterConfig):
    """IA3: learned vectors `l`, initialised to 1, that rescale activations.

    As in Hugging Face peft: a target that is not a feedforward target has its
    output scaled per output feature, `y = base(x) * l` (a key or value
    projection: per head and head dim); a feedforward target has its input
    scaled per input feature, `y = base(x * l)`. On the feed-forward down
    projection that input is the FFN intermediate activation, gated or not.
    Merging multiplies the kernel by `l` over its output axes (and the bias
    too), or over its input axes for a feedforward target; unmerging divides.

    Args:
        targets: which layers: slots of the backbone spec (`"key"`,
            `"value"`, `"ffn_output"`...) or path patterns on `layer.path`
            (a string is a full regex match, a list entry matches a path
            exactly or as a suffix after `/`); `"all-linear"`: every
            projection slot the spec defines.
        feedforward: the targets whose input is scaled, in the same forms.
            As in peft, a list must be a subset of a list of `targets`;
            `()` or `None` scales the output of every target.
        exclude: same forms as `targets`; matching layers are skipped.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    keras_adapters.add_adapter(classifier, keras_adapters.IA3Config(), "sst2")
    ```

    References:
        - [Liu et al., 2022](https://arxiv.org/abs/2205.05638)
    """

    method = "ia3"

    targets: tuple = ("key", "value", "ffn_output")
    feedforward: tuple = ("ffn_output",)
    exclude: tuple = None

    def __post_init__(self):
        super().__post_init__()
        targets = validation.check_patterns("targets", self.targets, allow_none=False)
        object.__setattr__(self, "targets", targets)
        feedforward = self.feedforward
        if feedforward is None or (isinstance(feedforward, (list, tuple)) and not feedforward):
            feedforward = ()
        else:
            feedforward = validation.check_patterns("feedforward", feedforward)
        object.__setattr__(self, "feedforward", feedforward)
        object.__setattr__(self, "exclude", validation.check_patterns("exclude", self.exclude))
        if isinstance(targets, tuple) and isinstance(feedforward, tuple):
            extra = [entry for entry in feedforward if entry not in targets]
            if extra:
                raise ValueError(
                    f"`feedforward` must be a subset of `targets`; {extra} are not targets. "
                    "Pass `feedforward=()` to scale the output of every target. "
                    f"Received: feedforward={list(feedforward)!r}, targets={list(targets)!r}"
                )
