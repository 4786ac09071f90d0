"""What `two_stage.py` trains on: the main job's model and data, or a tiny synthetic stand-in.

The tiny setup (`--quick`) is a 2-block BERT with random weights over a
26-word vocabulary and short synthetic "reviews" whose label is the majority
of their sentiment words: it exercises every step of the benchmark in
seconds and says nothing about accuracy.
"""

import dataclasses

REAL = dict(
    labelled_examples=300,
    stage1_steps=200,
    stage2_epochs=10,
    seeds="1337,1,2",
    batch_size=32,
    sequence_length=48,
    reduction_factor=16,
    xla=True,
)
QUICK = dict(
    labelled_examples=16,
    stage1_steps=3,
    stage2_epochs=2,
    seeds="0,1",
    batch_size=8,
    sequence_length=16,
    reduction_factor=4,
    xla=False,
)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POSITIVE = ["good", "great", "fun", "moving", "sharp"]
NEGATIVE = ["bad", "dull", "slow", "flat", "weak"]
FILLER = ["the", "film", "plot", "cast", "was", "is", "a", "very", "and", "but", "story"]


@dataclasses.dataclass
class Setup:
    data: object  # keras_adapters.data.TextClassificationData
    load_backbone: object  # () -> (backbone, tokenizer), the same "pretrained" weights each call
    description: str
    backbone_name: str


def real_setup(args):
    """all-MiniLM-L6-v2 and the main job's Rotten Tomatoes split (`keras-adapters train`)."""
    from keras_adapters.assets import load_backbone_preset
    from keras_adapters.data import load_text_classification

    data = load_text_classification("rotten_tomatoes", seed=1337)
    return Setup(
        data=data,
        load_backbone=lambda: load_backbone_preset("minilm_l6"),
        description="Rotten Tomatoes (main job split, split seed 1337)",
        backbone_name="all-MiniLM-L6-v2 (`minilm_l6`, 22.7M parameters, no masked-LM head)",
    )


def _synthetic_split(rng, count):
    from keras_adapters.data import TextSplit

    texts, labels = [], []
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 8))))
        words += list(rng.choice(POSITIVE if label else NEGATIVE, size=2))
        words += list(rng.choice(NEGATIVE if label else POSITIVE, size=1))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return TextSplit(texts, labels)


def quick_setup(args):
    import keras
    import keras_hub
    import numpy as np

    from keras_adapters.data import TextClassificationData

    rng = np.random.default_rng(0)
    data = TextClassificationData(
        train=_synthetic_split(rng, 64),
        validation=_synthetic_split(rng, 16),
        test=_synthetic_split(rng, 24),
        label_names=("negative", "positive"),
        source="synthetic",
    )
    vocabulary = SPECIAL_TOKENS + POSITIVE + NEGATIVE + FILLER

    def load_backbone():
        keras.utils.set_random_seed(0)  # the same "pretrained" weights every time
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(vocabulary),
            num_layers=2,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            max_sequence_length=args.sequence_length,
        )
        return backbone, keras_hub.models.BertTokenizer(vocabulary=vocabulary)

    return Setup(data, load_backbone, "synthetic text (--quick)", "tiny random BERT (--quick)")
