"""Tiny KerasHub backbones and task models, fast enough for a test grid."""

import keras
import keras_hub
import numpy as np

TINY = dict(
    vocabulary_size=60,
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    max_sequence_length=16,
)

BACKBONES = {
    "bert": (keras_hub.models.BertBackbone, keras_hub.models.BertTextClassifier),
    "roberta": (keras_hub.models.RobertaBackbone, keras_hub.models.RobertaTextClassifier),
    "distil_bert": (keras_hub.models.DistilBertBackbone, keras_hub.models.DistilBertTextClassifier),
    "xlm_roberta": (
        keras_hub.models.XLMRobertaBackbone,
        keras_hub.models.XLMRobertaTextClassifier,
    ),
    "electra": (keras_hub.models.ElectraBackbone, None),
    "albert": (keras_hub.models.AlbertBackbone, keras_hub.models.AlbertTextClassifier),
    "deberta_v3": (keras_hub.models.DebertaV3Backbone, keras_hub.models.DebertaV3TextClassifier),
}
# What a backbone needs beyond `TINY`.
EXTRA = {
    "electra": dict(embedding_dim=6),  # projected to hidden_dim before the blocks
    # One group of two blocks, called twice: four block calls, two blocks' weights.
    "albert": dict(embedding_dim=6, num_groups=1, num_inner_repetitions=2),
    "deberta_v3": dict(bucket_size=4),  # log-bucketed relative positions beyond +-2
}
WITH_SEGMENT_IDS = ("bert", "electra", "albert")


# Decoders: Llama 3 with grouped-query attention (4 query heads, 2 key/value
# heads of dim 4, a gated SwiGLU feed-forward) and GPT-NeoX (fused q/k/v).
TINY_DECODER = dict(vocabulary_size=64, num_layers=2, hidden_dim=16, intermediate_dim=32)
DECODERS = {
    "llama3": (keras_hub.models.Llama3Backbone, dict(num_query_heads=4, num_key_value_heads=2)),
    "gpt_neo_x": (keras_hub.models.GPTNeoXBackbone, dict(num_heads=2, max_sequence_length=32)),
}


def make_decoder(kind="llama3", seed=0):
    keras.utils.set_random_seed(seed)
    backbone_class, extra = DECODERS[kind]
    return backbone_class(**TINY_DECODER, **extra)


def make_decoder_inputs(batch=2, length=6, seed=1):
    """Random token ids, the second row right-padded."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, TINY_DECODER["vocabulary_size"], size=(batch, length))
    padding_mask = np.ones((batch, length), dtype="int32")
    padding_mask[1:, length - 2 :] = 0
    return {"token_ids": (token_ids * padding_mask).astype("int32"), "padding_mask": padding_mask}


def make_backbone(kind="bert", seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    config = {**TINY, **EXTRA.get(kind, {}), **overrides}
    if kind == "electra":  # ElectraBackbone names it `vocab_size`
        config["vocab_size"] = config.pop("vocabulary_size")
    return BACKBONES[kind][0](**config)


def make_classifier(kind="bert", seed=0, **overrides):
    """A task model whose logits are sensitive (unit-scale head) to any change."""
    backbone = make_backbone(kind, seed, **overrides)
    classifier = BACKBONES[kind][1](backbone, num_classes=2, preprocessor=None)
    head = classifier.get_layer("logits")
    rng = np.random.default_rng(seed)
    head.kernel.assign(rng.normal(size=head.kernel.shape).astype("float32"))
    return classifier


def make_inputs(kind="bert", batch=3, length=6, seed=1):
    """Random token ids with some padded rows (padding at the end)."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, TINY["vocabulary_size"], size=(batch, length)).astype("int32")
    padding_mask = np.ones((batch, length), dtype="int32")
    for row in range(1, batch):
        padding_mask[row, length - row :] = 0
    token_ids = token_ids * padding_mask
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
    if kind in WITH_SEGMENT_IDS:
        inputs["segment_ids"] = np.zeros((batch, length), dtype="int32")
    return inputs


def randomize_weights(model, seed=0, scale=0.3):
    """Gives the base weights random values at a scale that makes the architecture visible.

    With KerasHub's initialisers (standard deviation 0.02) attention is almost
    uniform and activations almost linear, so a reference that got attention
    or an activation wrong would still agree; norm scales and biases start
    as ones or zeros, so one that forgot them would agree too. Kernels and
    embeddings become `N(0, scale)`; norm weights and biases get that noise
    added (times 2/3).
    """
    rng = np.random.default_rng(seed + 100)
    for variable in model.weights:
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("kernel", "embeddings"):
            values = rng.normal(scale=scale, size=variable.shape)
        elif name in ("scale", "gamma", "beta", "bias"):
            values = variable.numpy() + rng.normal(scale=scale * 2 / 3, size=variable.shape)
        else:
            continue
        variable.assign(values.astype("float32"))
    return model


def randomize_adapters(model, seed=2, scale=0.3):
    """Gives every adapter weight random values, so zero-init cannot hide errors."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if "/lora/" in variable.path or any(
            f"/{m}/" in variable.path
            for m in ("houlsby", "pfeiffer", "parallel", "prefix", "ia3", "dora")
        ):
            variable.assign(rng.normal(scale=scale, size=variable.shape).astype("float32"))


def weights_by_path(model):
    return {v.path: np.array(v.numpy()) for v in model.weights}


def _innermost(layer):
    while hasattr(layer, "base_layer"):
        layer = layer.base_layer
    return layer


def block_weights(block):
    """The base weights of a TransformerEncoder block as NumPy arrays."""
    attention = _innermost(block._self_attention_layer)
    layers = {
        "query": attention._query_dense,
        "key": attention._key_dense,
        "value": attention._value_dense,
        "output": attention._output_dense,
        "ffn_intermediate": block._feedforward_intermediate_dense,
        "ffn_output": block._feedforward_output_dense,
    }
    weights = {}
    for name, layer in layers.items():
        layer = _innermost(layer)
        if isinstance(layer, keras.layers.Identity) or hasattr(layer, "slots"):
            # Moved into the LayerChain of a parallel adapter.
            chain = _innermost(block._feedforward_intermediate_dense)
            layer = _innermost(getattr(chain, name))
        weights[f"{name}_kernel"] = np.array(layer.kernel.numpy())
        weights[f"{name}_bias"] = np.array(layer.bias.numpy())
    for name, norm in (
        ("attention_norm", block._self_attention_layer_norm),
        ("ffn_norm", block._feedforward_layer_norm),
    ):
        norm = _innermost(norm)
        weights[f"{name}_gamma"] = np.array(norm.gamma.numpy())
        weights[f"{name}_beta"] = np.array(norm.beta.numpy())
    return weights


def module_weights(module):
    """`{weight name: array}` of an adapter module."""
    return {v.name: np.array(v.numpy()) for v in module.weights}
