"""The tiny test models in Hugging Face's layout, through KerasHub's own converters.

KerasHub loads a Hugging Face checkpoint with
`convert_weights(backbone, loader, transformers_config)`: for each tensor,
`loader.port_weight(keras_variable, hf_weight_key, hook_fn)` transposes and
reshapes it into a Keras variable. `trace_conversion` runs those converters
with a stand-in loader that feeds each hook an array of indices, which shows
where every Hugging Face entry lands. From that, `hf_weights` reads a Keras
model's projections in Hugging Face's layout (the inverse of KerasHub's
conversion) and `set_hf_weights` writes Hugging Face-layout weights back into
a model, as KerasHub's loader would. The Hugging Face shapes come from the
Hugging Face modeling code (`torch.nn.Linear(in, out).weight` is
`[out, in]`; GPT-2's `Conv1D(out, in).weight` is `[in, out]`), not from
keras-adapters.

`peft_merged` applies PEFT's documented LoRA and DoRA formulas to those
weights in NumPy.
"""

import dataclasses
import json
import math

import numpy as np
import safetensors.numpy
from keras_hub.src.utils.transformers import (
    convert_bert,
    convert_distilbert,
    convert_gemma,
    convert_gpt2,
    convert_llama3,
    convert_mistral,
    convert_qwen,
    convert_roberta,
    convert_xlm_roberta,
)

from tests.support import tiny_decoders, tiny_models

ENCODER = {
    "attention.self.query": ("H", "H"),
    "attention.self.key": ("H", "H"),
    "attention.self.value": ("H", "H"),
    "attention.output.dense": ("H", "H"),
    "intermediate.dense": ("I", "H"),
    "output.dense": ("H", "I"),
}
DISTIL_BERT = {
    "attention.q_lin": ("H", "H"),
    "attention.k_lin": ("H", "H"),
    "attention.v_lin": ("H", "H"),
    "attention.out_lin": ("H", "H"),
    "ffn.lin1": ("I", "H"),
    "ffn.lin2": ("H", "I"),
}
LLAMA = {
    "self_attn.q_proj": ("Q", "H"),
    "self_attn.k_proj": ("KV", "H"),
    "self_attn.v_proj": ("KV", "H"),
    "self_attn.o_proj": ("H", "Q"),
    "mlp.gate_proj": ("I", "H"),
    "mlp.up_proj": ("I", "H"),
    "mlp.down_proj": ("H", "I"),
}
GPT2 = {  # Conv1D weights are [in, out]
    "attn.c_attn": ("H", "3H"),
    "attn.c_proj": ("H", "H"),
    "mlp.c_fc": ("H", "I"),
    "mlp.c_proj": ("I", "H"),
}


@dataclasses.dataclass(frozen=True)
class HfFamily:
    """One architecture: its tiny Keras model and its Hugging Face names and shapes.

    Attributes:
        name: the test id.
        make_model: `seed -> Keras task model`, every weight at unit-like scale.
        converter: KerasHub's `convert_*` module.
        converter_config: the transformers config fields the converter reads.
        converter_blocks: the converter's key prefix of block `{i}`.
        peft_blocks: module path prefix of block `{i}` in the Hugging Face
            task class (what PEFT's keys use after `base_model.model.`).
        modules: block-relative module -> HF weight shape in dims
            (`H` hidden, `I` intermediate, `Q`/`KV` query/key-value width).
        conv1d: weights are `[in, out]` (GPT-2).
        embeddings: converter keys of the embedding tables, with shapes in dims.
    """

    name: str
    make_model: object
    converter: object
    converter_config: dict
    converter_blocks: str
    peft_blocks: str
    modules: dict
    conv1d: bool = False
    embeddings: dict = dataclasses.field(default_factory=dict)

    def dims(self, backbone):
        hidden = backbone.hidden_dim
        query_heads = getattr(backbone, "num_query_heads", None)
        kv_heads = getattr(backbone, "num_key_value_heads", None)
        head_dim = getattr(backbone, "head_dim", None) or (
            hidden // query_heads if query_heads else None
        )
        intermediate = backbone.intermediate_dim
        if self.name == "gemma":  # KerasHub's intermediate_dim is twice Hugging Face's
            intermediate //= 2
        return {
            "H": hidden,
            "I": intermediate,
            "3H": 3 * hidden,
            "Q": query_heads * head_dim if query_heads else None,
            "KV": kv_heads * head_dim if kv_heads else None,
            "V": backbone.vocabulary_size,
        }

    def hf_shapes(self, backbone):
        """`{converter key: HF shape}` of every block projection (and embedding table)."""
        dims = self.dims(backbone)
        shapes = {}
        for i in range(backbone.num_layers):
            for module, shape in self.modules.items():
                key = self.converter_blocks.format(i=i) + module + ".weight"
                shapes[key] = tuple(dims[d] for d in shape)
        for key, shape in self.embeddings.items():
            shapes[key] = tuple(dims[d] for d in shape)
        return shapes

    def peft_module(self, i, module):
        return self.peft_blocks.format(i=i) + module

    def converter_key(self, i, module):
        return self.converter_blocks.format(i=i) + module + ".weight"


def _classifier(kind):
    def make(seed=0):
        model = tiny_models.make_classifier(kind, seed)
        tiny_models.randomize_weights(model, seed)
        return model

    return make


def _causal_lm(family):
    def make(seed=0):
        return tiny_decoders.make_causal_lm(family, seed)

    return make


DECODER_EMBEDDINGS = {"model.embed_tokens.weight": ("V", "H"), "lm_head.weight": ("V", "H")}

FAMILIES = {
    f.name: f
    for f in (
        HfFamily(
            "bert",
            _classifier("bert"),
            convert_bert,
            {},
            "encoder.layer.{i}.",
            "bert.encoder.layer.{i}.",
            ENCODER,
        ),
        HfFamily(
            "roberta",
            _classifier("roberta"),
            convert_roberta,
            {},
            "roberta.encoder.layer.{i}.",
            "roberta.encoder.layer.{i}.",
            ENCODER,
        ),
        HfFamily(  # a RobertaBackbone subclass: the RoBERTa record applies
            "xlm_roberta",
            _classifier("xlm_roberta"),
            convert_xlm_roberta,
            {},
            "encoder.layer.{i}.",
            "roberta.encoder.layer.{i}.",
            ENCODER,
        ),
        HfFamily(
            "distil_bert",
            _classifier("distil_bert"),
            convert_distilbert,
            {},
            "distilbert.transformer.layer.{i}.",
            "distilbert.transformer.layer.{i}.",
            DISTIL_BERT,
        ),
        HfFamily(
            "llama3",
            _causal_lm("llama3"),
            convert_llama3,
            {},
            "model.layers.{i}.",
            "model.layers.{i}.",
            LLAMA,
            embeddings=DECODER_EMBEDDINGS,
        ),
        HfFamily(
            "llama",
            _causal_lm("llama"),
            convert_llama3,  # KerasHub converts every Hugging Face "llama" with it
            {},
            "model.layers.{i}.",
            "model.layers.{i}.",
            LLAMA,
            embeddings=DECODER_EMBEDDINGS,
        ),
        HfFamily(
            "mistral",
            _causal_lm("mistral"),
            convert_mistral,
            {},
            "model.layers.{i}.",
            "model.layers.{i}.",
            LLAMA,
            embeddings=DECODER_EMBEDDINGS,
        ),
        HfFamily(
            "qwen",
            _causal_lm("qwen"),
            convert_qwen,
            {},
            "model.layers.{i}.",
            "model.layers.{i}.",
            LLAMA,
        ),
        HfFamily(
            "gemma",
            _causal_lm("gemma"),
            convert_gemma,
            {"model_type": "gemma2"},  # the tiny Gemma has Gemma 2's extra norms
            "model.layers.{i}.",
            "model.layers.{i}.",
            LLAMA,
        ),
        HfFamily(
            "gpt2",
            _causal_lm("gpt2"),
            convert_gpt2,
            {"n_embd": tiny_decoders.HIDDEN},
            "h.{i}.",
            "transformer.h.{i}.",
            GPT2,
            conv1d=True,
        ),
    )
}


class _TracingLoader:
    """Stands in for KerasHub's `SafetensorLoader`: records where each HF entry lands."""

    def __init__(self, shapes):
        self.shapes = shapes
        self.placements = []

    def get_tensor(self, key):
        if key.endswith("token_type_embeddings.weight"):
            return np.zeros((1, 1))  # XLM-R folds row 0 into the positions: fold nothing
        raise KeyError(key)  # BERT and XLM-R probe LayerNorm names: use weight/bias

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        shape = self.shapes.get(hf_weight_key)
        if shape is None:
            return
        size = math.prod(shape)
        index = np.arange(size, dtype=np.float64).reshape(shape)
        placed = index if hook_fn is None else hook_fn(index, list(keras_variable.shape))
        placed = np.asarray(placed, dtype=np.float64)
        assert placed.shape == tuple(keras_variable.shape), (hf_weight_key, placed.shape)
        assert np.array_equal(placed, np.round(placed)) and len(np.unique(placed)) == placed.size
        self.placements.append((hf_weight_key, keras_variable, placed.astype(np.int64)))


def trace_conversion(model, family):
    """`[(converter key, Keras variable, HF flat index of each Keras entry)]`."""
    backbone = model.backbone if hasattr(model, "backbone") else model
    loader = _TracingLoader(family.hf_shapes(backbone))
    family.converter.convert_weights(backbone, loader, family.converter_config)
    return loader.placements, loader.shapes


def hf_weights(model, family):
    """`{converter key: array}`: the model's projections in Hugging Face's layout."""
    placements, shapes = trace_conversion(model, family)
    weights = {}
    for key, variable, placed in placements:
        flat = weights.setdefault(key, np.full(math.prod(shapes[key]), np.nan, np.float64))
        flat[placed.ravel()] = np.asarray(variable.numpy(), np.float64).ravel()
    assert not any(np.isnan(w).any() for w in weights.values())
    return {key: flat.reshape(shapes[key]) for key, flat in weights.items()}


def set_hf_weights(model, family, weights):
    """Loads Hugging Face-layout `weights` into `model` as KerasHub's converter would."""
    placements, _ = trace_conversion(model, family)
    for key, variable, placed in placements:
        if key in weights:
            variable.assign(weights[key].ravel()[placed].astype("float32"))


def peft_merged(weight, lora_a, lora_b, scale, conv1d=False, magnitude=None):
    """PEFT's merged weight: `W + scale * B @ A` (Conv1D: its transpose); DoRA rescales rows.

    DoRA (`peft.tuners.lora.dora.DoraLinearLayer`): `V = W + scale * B @ A` in
    `[out, in]` orientation, `W' = (m / ||V||_row) * V`.
    """
    oriented = weight.T if conv1d else weight
    merged = oriented + scale * (lora_b.astype(np.float64) @ lora_a.astype(np.float64))
    if magnitude is not None:
        norm = np.linalg.norm(merged, axis=1)
        merged = (magnitude / norm)[:, None] * merged
    return merged.T if conv1d else merged


DEFAULT_CONFIG = {
    "alpha_pattern": {},
    "auto_mapping": None,
    "base_model_name_or_path": None,
    "bias": "none",
    "fan_in_fan_out": False,
    "inference_mode": True,
    "init_lora_weights": True,
    "layer_replication": None,
    "layers_pattern": None,
    "layers_to_transform": None,
    "loftq_config": {},
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "megatron_config": None,
    "megatron_core": "megatron.core",
    "modules_to_save": None,
    "peft_type": "LORA",
    "r": 8,
    "rank_pattern": {},
    "revision": None,
    "target_modules": None,
    "task_type": None,
    "use_dora": False,
    "use_rslora": False,
}


def write_peft_dir(path, config, tensors):
    """A directory as PEFT's `save_pretrained` writes it (config over PEFT 0.13's defaults)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_config.json").write_text(json.dumps({**DEFAULT_CONFIG, **config}, indent=2))
    safetensors.numpy.save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
        str(path / "adapter_model.safetensors"),
        metadata={"format": "pt"},
    )
    return path


ENCODERS = ("bert", "roberta", "xlm_roberta", "distil_bert")


def inputs_for(family):
    if family.name in ENCODERS:
        return tiny_models.make_inputs(family.name)
    return tiny_decoders.make_inputs()


def random_lora(model, family, modules=None, layers=(0, 1), r=2, scale=1.0, seed=0, dora=False):
    """Random PEFT tensors for `modules` of blocks `layers`, and what they mean.

    Returns:
        `(tensors, factors, base)`: the PEFT file's tensors; `{converter key:
        (A, B, magnitude or None)}`; the model's Hugging Face-layout weights.
    """
    base = hf_weights(model, family)
    rng = np.random.default_rng(seed)
    tensors, factors = {}, {}
    for i in layers:
        for module in modules or family.modules:
            key = family.converter_key(i, module)
            weight = base[key].T if family.conv1d else base[key]  # [out, in]
            lora_a = rng.normal(scale=0.3, size=(r, weight.shape[1]))
            lora_b = rng.normal(scale=0.3, size=(weight.shape[0], r))
            path = "base_model.model." + family.peft_module(i, module)
            tensors[path + ".lora_A.weight"] = lora_a
            tensors[path + ".lora_B.weight"] = lora_b
            magnitude = None
            if dora:  # around the norms PEFT starts from, so the rescaling matters
                norms = np.linalg.norm(weight + scale * lora_b @ lora_a, axis=1)
                magnitude = norms * rng.uniform(0.5, 1.5, size=norms.shape)
                tensors[path + ".lora_magnitude_vector"] = magnitude
            factors[key] = (lora_a, lora_b, magnitude)
    return tensors, factors, base


def expected_output(family, factors, base, scale, inputs, seed=0, extra=None):
    """The output of a fresh copy of the model holding PEFT's merged weights (and `extra`)."""
    reference = family.make_model(seed)
    merged = {
        key: peft_merged(base[key], a, b, scale, family.conv1d, magnitude)
        for key, (a, b, magnitude) in factors.items()
    }
    set_hf_weights(reference, family, {**merged, **(extra or {})})
    return np.array(reference(inputs))
