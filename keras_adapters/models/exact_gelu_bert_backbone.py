"""`ExactGeluBertBackbone`: KerasHub's BERT with the exact (erf) GELU."""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="keras_adapters")
class ExactGeluBertBackbone(keras_hub.models.BertBackbone):
    """A `keras_hub.models.BertBackbone` whose feed-forward uses exact GELU.

    KerasHub builds BERT blocks with the tanh approximation of GELU, while
    BERT checkpoints from Hugging Face (MiniLM, all-MiniLM-L6-v2, ...) were
    trained with the exact, erf-based GELU. On all-MiniLM-L6-v2 the
    approximation moves the outputs by up to 2.3e-3; with the exact GELU the
    outputs match the reference to about 2e-6.

    This subclass takes the same arguments as `BertBackbone` and, after
    building, sets every transformer block's feed-forward activation (the
    intermediate `Dense` and the block's `activation` attribute) to
    `keras.activations.gelu` with `approximate=False`. The class is
    registered for serialization, so the fix survives
    `model.save("x.keras")` and `keras.models.load_model`.

    Args:
        vocabulary_size: int. The size of the token vocabulary.
        num_layers: int. The number of transformer layers.
        num_heads: int. The number of attention heads per layer.
        hidden_dim: int. The size of the hidden states.
        intermediate_dim: int. The output size of the first feed-forward
            `Dense` in each layer.
        dropout: float. Dropout probability. Defaults to `0.1`.
        max_sequence_length: int. The largest sequence length the position
            embedding holds. Defaults to `512`.
        num_segments: int. The number of segment ids. Defaults to `2`.
        dtype: optional str or `keras.DTypePolicy`. The dtype policy.
        **kwargs: passed to `keras_hub.models.BertBackbone`.

    Example:
    ```python
    folder = keras_adapters.assets.fetch_asset("minilm_l6")
    backbone = keras_adapters.models.ExactGeluBertBackbone.from_preset(
        str(folder)
    )
    # Or convert a backbone already loaded by KerasHub:
    bert = keras_hub.models.BertBackbone.from_preset(str(folder))
    backbone = keras_adapters.models.ExactGeluBertBackbone.from_backbone(bert)
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Blocks are built by the functional construction above, and `Dense`
        # reads `self.activation` at call time, so this changes the graph.
        for block in self.transformer_layers:
            block.activation = keras.activations.gelu
            block._feedforward_intermediate_dense.activation = keras.activations.gelu

    @classmethod
    def from_backbone(cls, backbone):
        """Builds an `ExactGeluBertBackbone` with the weights of `backbone`.

        Args:
            backbone: `keras_hub.models.BertBackbone`. The backbone to copy
                (its config and every weight, matched by variable path).

        Returns:
            A new `keras_adapters.models.ExactGeluBertBackbone`; `backbone`
            is left unchanged.

        Example:
        ```python
        bert = keras_hub.models.BertBackbone(
            vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=16,
        )
        exact = keras_adapters.models.ExactGeluBertBackbone.from_backbone(bert)
        ```
        """
        if not isinstance(backbone, keras_hub.models.BertBackbone):
            raise ValueError(
                "`backbone` must be a `keras_hub.models.BertBackbone`. "
                f"Received: backbone={backbone!r}"
            )
        model = cls.from_config(backbone.get_config())
        source = {variable.path: variable for variable in backbone.weights}
        target = {variable.path: variable for variable in model.weights}
        if set(source) != set(target):
            raise ValueError(
                "`backbone` holds variables a plain BertBackbone does not "
                f"(or lacks some): {sorted(set(source) ^ set(target))}. "
                "Convert the backbone before adding adapters to it. "
                f"Received: backbone={backbone.name!r}"
            )
        for path, variable in target.items():
            variable.assign(source[path])
        return model

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a BERT preset and switches it to exact GELU.

        Accepts everything `keras_hub.models.BertBackbone.from_preset`
        accepts, including a local folder in Hugging Face layout
        (`config.json`, `model.safetensors`, ...). A preset saved from an
        `ExactGeluBertBackbone` loads directly.

        Args:
            preset: str. A preset name, handle or local folder.
            load_weights: bool. Whether to load the preset's weights.
                Defaults to `True`.
            **kwargs: passed to `keras_hub.models.BertBackbone.from_preset`.

        Returns:
            A `keras_adapters.models.ExactGeluBertBackbone`.

        Example:
        ```python
        folder = keras_adapters.assets.fetch_asset("minilm_l6")
        backbone = keras_adapters.models.ExactGeluBertBackbone.from_preset(
            str(folder)
        )
        ```
        """
        backbone = keras_hub.models.BertBackbone.from_preset(
            preset, load_weights=load_weights, **kwargs
        )
        if isinstance(backbone, cls):
            return backbone
        return cls.from_backbone(backbone)
