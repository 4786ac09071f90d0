"""A prompt-tuned text classifier serves raw strings: the SavedModel reserves the prompt itself."""

import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
import keras_adapters.export
from tests.export.text_classifiers import (
    LABEL_NAMES,
    TEXTS,
    assert_unchanged,
    make_text_classifier,
    predict_logits,
    randomized,
    snapshot,
)


@pytest.mark.slow
def test_every_signature_reserves_the_prompt_only_where_it_is_active(tmp_path):
    classifier = make_text_classifier(seed=3)
    classifier.preprocessor.sequence_length = 12  # + 3 prompt positions <= 16 positions
    base_logits = predict_logits(classifier)
    config = keras_adapters.PromptConfig(num_virtual_tokens=3, init_text="a gripping film")
    keras_adapters.add_adapter(classifier, config, "prompt", verbose=False)
    keras_adapters.add_adapter(classifier, keras_adapters.LoraConfig(rank=2), "lora", verbose=False)
    randomized(classifier)
    expected = {}
    for name in ("prompt", "lora"):
        keras_adapters.set_active_adapters(classifier, name)
        expected[f"adapter_{name}"] = predict_logits(classifier)
    keras_adapters.set_active_adapters(classifier, ["prompt", "lora"])
    expected["serving_default"] = predict_logits(classifier)
    assert np.abs(expected["adapter_prompt"] - base_logits).max() > 0.1
    assert np.abs(expected["adapter_prompt"] - expected["adapter_lora"]).max() > 0.1
    before = snapshot(classifier)
    path = keras_adapters.export.export_text_classifier(
        classifier, tmp_path / "1", label_names=LABEL_NAMES, adapters="switchable"
    )
    assert_unchanged(before, snapshot(classifier))
    loaded = tf.saved_model.load(str(path))
    for signature, logits in expected.items():
        served = loaded.signatures[signature](texts=tf.constant(TEXTS))["logits"].numpy()
        np.testing.assert_allclose(served, logits, atol=1e-5, rtol=0, err_msg=signature)
    saved = {v.name.split(":")[0] for v in loaded._all_variables}
    assert "token_embedding/prompt/prompt/embeddings" in saved
    # As TF Serving runs it: a fresh process with TensorFlow only.
    outputs = keras_adapters.export.verify_saved_model(
        path, TEXTS, expected_logits=expected["serving_default"]
    )
    assert outputs.process["loaded_project_modules"] == []
