"""`FusionConfig`: AdapterFusion (Pfeiffer et al. 2021) over trained bottleneck adapters."""

import dataclasses

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class FusionConfig(AdapterConfig):
    """Learns to combine the outputs of several trained, frozen bottleneck adapters.

    At every site where all `adapters` have a module, a fusion layer attends
    over their outputs `o_n = A_n(z)` with the site's input `z` as the query
    (Pfeiffer et al. 2021, "AdapterFusion"):
    `w_n = softmax_n((z Q + b_Q) · (o_n K + b_K) / temperature)`, and the site
    adds `Σ_n w_n o_n V`. `V` starts as the identity and `Q`, `K` near zero,
    so the fusion starts as the average of the adapters. Only the fusion
    weights train; the fused adapters are used, frozen, while it is active.

    Args:
        adapters: names of two or more bottleneck adapters of the model, of
            one placement (Pfeiffer, Houlsby or parallel).
        temperature: softmax temperature, > 0.
        layers: block indices to fuse in, or `None` for every block where
            all `adapters` have modules.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    keras_adapters.add_adapter(
        model, keras_adapters.FusionConfig(adapters=("sst2", "imdb", "yelp")), "fusion"
    )
    ```
    """

    method = "fusion"

    adapters: tuple = ()
    temperature: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        names = self.adapters
        if (
            isinstance(names, str)
            or not isinstance(names, (list, tuple))
            or len(names) < 2
            or not all(isinstance(n, str) and n.isidentifier() for n in names)
            or len(set(names)) != len(names)
        ):
            raise ValueError(
                "`adapters` must name two or more distinct adapters. "
                f"Received: adapters={self.adapters!r}"
            )
        object.__setattr__(self, "adapters", tuple(names))
        object.__setattr__(
            self, "temperature", validation.check_positive_number("temperature", self.temperature)
        )

    def references(self):
        """The adapters this one uses: they cannot be deleted while it exists."""
        return self.adapters
