"""`AdaLoraWeights`: the `P`, `λ`, `Q` triplets of one AdaLoRA matrix and their mask."""

import dataclasses

import keras
from keras import ops

from keras_adapters.core import validation
from keras_adapters.core.serialization import register
from keras_adapters.methods.lora.lora_weights import LoraWeights

# peft's AdaLoRA initialisation: P and Q ~ N(0, 0.02), λ = 0 (the identity).
FACTOR_INITIALIZER = {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.02}}
# The three trained tensors, in the order the importance statistics use.
FACTORS = ("lora_p", "lora_e", "lora_q")


@dataclasses.dataclass(frozen=True)
class ImportanceStatistics:
    """The smoothed sensitivity `Ī` and uncertainty `Ū` of every entry of `P`, `λ`, `Q`.

    Training statistics, like an optimizer's slots: kept out of the module's
    Keras weights (a dataclass is not tracked), so they are neither trained,
    counted, nor written to adapter files.

    Attributes:
        sensitivity: factor name (`FACTORS`) -> variable shaped like it (`Ī`).
        uncertainty: factor name -> variable shaped like it (`Ū`).
    """

    sensitivity: dict
    uncertainty: dict


@register
class AdaLoraWeights(LoraWeights):
    """`ΔW = P diag(λ ⊙ mask) Q * alpha / r`: LoRA with `B = diag(λ ⊙ mask) Q`.

    As a `keras_adapters.layers.LoraWeights` whose `lora_a` is `P` and whose
    `lora_b` is `diag(λ ⊙ mask) Q`, it goes into LoRA's wrappers
    (`LoraDense`, `LoraEinsumDense`) unchanged: the same einsum
    factorisation, forward and additive merge, which folds only the kept
    triplets. Its call adds the orthogonality regulariser of its matrix to
    the model's losses.

    Weights: `lora_p` (`P`, `a_shape`), `lora_e` (`λ`, `[rank]`, zeros at
    init), `lora_q` (`Q`, `b_shape`), trained; `rank_mask` (`[rank]`, ones)
    and `step` (training steps seen), updated by AdaLoRA's gradient hook and
    listed in `state_weights`: saved with the adapter, never trained.

    Args:
        rank: initial rank `r`, > 0.
        a_shape: shape of `P`; its last axis is `rank`.
        b_shape: shape of `Q`; its first axis is `rank`.
        alpha: scale numerator; defaults to `rank`.
        dropout: dropout rate on the adapter input, in [0, 1).
        orthogonality: weight of this matrix's `||PᵀP - I||² + ||QQᵀ - I||²`
            in the loss (`AdaLoraConfig.orthogonality` over the number of
            adapted matrices), >= 0.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    weights = keras_adapters.layers.AdaLoraWeights(rank=4, a_shape=(64, 4), b_shape=(4, 32))
    weights.build()
    weights.effective_rank()  # 4 until AdaLoRA masks triplets
    ```
    """

    def __init__(
        self, rank, a_shape, b_shape, alpha=None, dropout=0.0, orthogonality=0.0, **kwargs
    ):
        super().__init__(
            rank,
            a_shape,
            b_shape,
            alpha=alpha,
            dropout=dropout,
            a_initializer=FACTOR_INITIALIZER,
            **kwargs,
        )
        self.orthogonality = validation.check_non_negative_number("orthogonality", orthogonality)
        # The regulariser is computed from the float32 weights even under a mixed policy.
        self.autocast = False

    def build(self, input_shape=None):
        self.lora_p = self.add_weight(
            shape=self.a_shape, initializer=self.a_initializer, name="lora_p"
        )
        self.lora_e = self.add_weight(shape=(self.rank,), initializer="zeros", name="lora_e")
        self.lora_q = self.add_weight(
            shape=self.b_shape, initializer=self.a_initializer, name="lora_q"
        )
        self.rank_mask = self.add_weight(
            shape=(self.rank,), initializer="ones", trainable=False, name="rank_mask"
        )
        self.step = self.add_weight(shape=(), initializer="zeros", trainable=False, name="step")
        self.statistics = ImportanceStatistics(
            sensitivity={name: self._statistic(name, "sensitivity") for name in FACTORS},
            uncertainty={name: self._statistic(name, "uncertainty") for name in FACTORS},
        )

    def _statistic(self, factor, kind):
        shape = getattr(self, factor).shape
        return keras.Variable(
            initializer="zeros",
            shape=shape,
            dtype="float32",
            trainable=False,
            name=f"{factor}_{kind}",
        )

    @property
    def state_weights(self):
        """Weights the gradient hook updates: saved with the adapter, never trained."""
        return [self.rank_mask, self.step]

    @property
    def training_statistics(self):
        """Untracked statistics a training checkpoint carries, to resume exactly."""
        return [
            getattr(self.statistics, kind)[name]
            for kind in ("sensitivity", "uncertainty")
            for name in FACTORS
        ]

    # === LoRA's factor interface ===

    @property
    def lora_a(self):
        return self.lora_p

    @property
    def lora_b(self):
        """`diag(λ ⊙ mask) Q`: masked triplets contribute nothing."""
        values = self.lora_e * self.rank_mask
        return ops.reshape(values, (self.rank,) + (1,) * (len(self.b_shape) - 1)) * self.lora_q

    # === AdaLoRA ===

    def effective_rank(self):
        """How many triplets the mask keeps."""
        return int(round(float(ops.sum(self.rank_mask))))

    def orthogonality_penalty(self):
        """`||PᵀP - I||²_F + ||QQᵀ - I||²_F`, with `P` as `[in, r]` and `Q` as `[r, out]`."""
        p = ops.reshape(ops.cast(self.lora_p, "float32"), (-1, self.rank))
        q = ops.reshape(ops.cast(self.lora_q, "float32"), (self.rank, -1))
        identity = ops.eye(self.rank, dtype="float32")
        return ops.sum(ops.square(ops.matmul(ops.transpose(p), p) - identity)) + ops.sum(
            ops.square(ops.matmul(q, ops.transpose(q)) - identity)
        )

    def call(self, inputs, training=None):
        """Adds the weighted orthogonality penalty to the losses; applies the input dropout."""
        if self.orthogonality:
            self.add_loss(self.orthogonality * self.orthogonality_penalty())
        return super().call(inputs, training=training)

    def get_config(self):
        config = super().get_config()
        for name in ("use_rslora", "a_initializer"):  # fixed for AdaLoRA
            config.pop(name)
        config["orthogonality"] = self.orthogonality
        return config
