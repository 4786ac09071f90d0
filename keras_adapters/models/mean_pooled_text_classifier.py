"""`MeanPooledTextClassifier`: a KerasHub text classifier over mean-pooled tokens."""

import keras
import keras_hub

from keras_adapters.models.masked_mean_pooling import MaskedMeanPooling


@keras.saving.register_keras_serializable(package="keras_adapters")
class MeanPooledTextClassifier(keras_hub.models.TextClassifier):
    """Text classifier whose head reads the mean of the non-padding token outputs.

    Sentence-embedding checkpoints such as all-MiniLM-L6-v2 were trained with
    mean pooling, not with the `[CLS]` pooler that
    `keras_hub.models.BertTextClassifier` uses, so this head starts from the
    representation the checkpoint was trained to produce. It works with any
    KerasHub encoder whose inputs include `padding_mask` and whose output is a
    sequence (or a dict with `"sequence_output"`).

    Args:
        backbone: a KerasHub encoder backbone.
        num_classes: number of classes.
        preprocessor: a KerasHub text classifier preprocessor, or `None`.
        dropout: dropout rate before the output layer.
        **kwargs: forwarded to `keras_hub.models.TextClassifier`.

    Example:
    ```python
    backbone, tokenizer = keras_adapters.assets.load_backbone_preset("minilm_l6")
    classifier = keras_adapters.models.MeanPooledTextClassifier(
        backbone,
        num_classes=2,
        preprocessor=keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=64),
    )
    ```
    """

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooling = MaskedMeanPooling(dtype=backbone.dtype_policy, name="mean_pooling")
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )
        self.output_dense = keras.layers.Dense(
            num_classes, dtype=backbone.dtype_policy, name="logits"
        )

        # === Functional Model ===
        inputs = backbone.input
        sequence = backbone(inputs)
        if isinstance(sequence, dict):
            sequence = sequence["sequence_output"]
        pooled = self.pooling(sequence, inputs["padding_mask"])
        outputs = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config
