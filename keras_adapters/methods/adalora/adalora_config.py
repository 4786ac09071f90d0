"""`AdaLoraConfig`: LoRA in SVD form with a rank budget reallocated during training."""

import dataclasses

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdaLoraConfig(AdapterConfig):
    """AdaLoRA (Zhang et al. 2023): `ΔW = P diag(λ ⊙ mask) Q * alpha / r`.

    Every adapted matrix starts with `init_rank` triplets (a column of `P`, a
    singular value `λ_i`, a row of `Q`). While `fit` trains, the importance
    of every triplet is smoothed from its gradients, and a total budget of
    kept triplets shrinks along a cubic schedule from
    `init_rank * n_matrices` to `target_rank * n_matrices`: the globally most
    important triplets are kept, the others masked. Everything happens inside
    the compiled training step (no callback needed; TensorFlow backend).

    Args:
        init_rank: triplets per matrix at the start (`r`), > 0.
        target_rank: average triplets per matrix at the end, in
            `[1, init_rank]`.
        total_steps: required: the number of training steps the schedule
            spans (e.g. `epochs * steps_per_epoch`). A `fit` of exactly this
            many steps ends with the target budget.
        warmup_steps: steps at the start without pruning (`t_i`), >= 0.
        final_steps: steps at the end with the mask frozen (`t_f`), >= 0;
            `warmup_steps + final_steps < total_steps`.
        reallocation_interval: the mask is recomputed every this many steps
            while the budget decreases (`ΔT`), > 0.
        beta1: smoothing factor of the sensitivity, in [0, 1).
        beta2: smoothing factor of the uncertainty, in [0, 1).
        orthogonality: weight of the regulariser
            `mean over matrices of ||PᵀP - I||² + ||QQᵀ - I||²` in the
            training loss, >= 0.
        alpha: scale numerator; `scale = alpha / init_rank`. Defaults to
            `init_rank` (scale 1), as `keras_adapters.LoraConfig` does.
        dropout: dropout rate on the adapter input, in [0, 1).
        targets: which projections, as in `keras_adapters.LoraConfig`.
            Defaults to `"all-linear"`, as in the paper.
        exclude: same forms as `targets`; matching layers are skipped.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    config = keras_adapters.AdaLoraConfig(init_rank=12, target_rank=8, total_steps=1000)
    keras_adapters.add_adapter(classifier, config, "sst2")
    classifier.fit(data, epochs=...)  # 1000 steps in all
    print(keras_adapters.trainable_report(classifier))  # final rank of every matrix
    ```

    References:
        - [Zhang et al., 2023](https://arxiv.org/abs/2303.10512)
    """

    method = "adalora"

    init_rank: int = 12
    target_rank: int = 8
    total_steps: int = None
    warmup_steps: int = 0
    final_steps: int = 0
    reallocation_interval: int = 1
    beta1: float = 0.85
    beta2: float = 0.85
    orthogonality: float = 0.5
    alpha: float = None
    dropout: float = 0.0
    targets: tuple = "all-linear"
    exclude: tuple = None

    def __post_init__(self):
        super().__post_init__()
        validation.check_positive_int("init_rank", self.init_rank)
        validation.check_positive_int("target_rank", self.target_rank)
        if self.target_rank > self.init_rank:
            raise ValueError(
                "`target_rank` must be at most `init_rank`: AdaLoRA only removes triplets. "
                f"Received: target_rank={self.target_rank}, init_rank={self.init_rank}"
            )
        if self.total_steps is None:
            raise ValueError(
                "`total_steps` is required: the number of training steps over which the rank "
                "budget goes from `init_rank` to `target_rank` per matrix, e.g. "
                "`epochs * steps_per_epoch`. Received: total_steps=None"
            )
        validation.check_positive_int("total_steps", self.total_steps)
        validation.check_non_negative_int("warmup_steps", self.warmup_steps)
        validation.check_non_negative_int("final_steps", self.final_steps)
        if self.warmup_steps + self.final_steps >= self.total_steps:
            raise ValueError(
                "`warmup_steps + final_steps` must be less than `total_steps`, leaving steps in "
                "which the budget decreases. Received: "
                f"warmup_steps={self.warmup_steps}, final_steps={self.final_steps}, "
                f"total_steps={self.total_steps}"
            )
        validation.check_positive_int("reallocation_interval", self.reallocation_interval)
        for name in ("beta1", "beta2"):
            object.__setattr__(
                self, name, validation.check_unit_interval(name, getattr(self, name))
            )
        object.__setattr__(
            self,
            "orthogonality",
            validation.check_non_negative_number("orthogonality", self.orthogonality),
        )
        if self.alpha is not None:
            object.__setattr__(self, "alpha", validation.check_positive_number("alpha", self.alpha))
        object.__setattr__(self, "dropout", validation.check_dropout("dropout", self.dropout))
        object.__setattr__(
            self, "targets", validation.check_patterns("targets", self.targets, allow_none=False)
        )
        object.__setattr__(self, "exclude", validation.check_patterns("exclude", self.exclude))

    @property
    def scale(self):
        """The factor applied to `P diag(λ ⊙ mask) Q`: `alpha / init_rank`."""
        alpha = self.init_rank if self.alpha is None else self.alpha
        return alpha / self.init_rank
