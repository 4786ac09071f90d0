"""The PEFT architecture records agree with KerasHub's Hugging Face converters, and are checked.

For every block projection, KerasHub's `convert_weights` must load the
Hugging Face module into the layer our record gives it, with the layout our
LoRA factors assume: KerasHub's placement of `B @ A` (the merged LoRA delta
in Hugging Face's layout) is our `lora_a`/`lora_b` product.
"""

import keras
import keras_hub
import numpy as np
import pytest

import keras_adapters
from keras_adapters.methods.lora.einsum_factorization import DENSE_EQUATION, factorize_einsum
from keras_adapters.planning.model_context import ModelContext
from keras_adapters.saving import PeftArchitecture, SavedModule
from keras_adapters.saving.peft.base_model_name import architecture_named_by
from keras_adapters.saving.peft.hf_modules import hf_modules
from tests.saving.peft.hf_reference import FAMILIES, trace_conversion


def _delta(layer, lora_a, lora_b):
    equation = layer.equation if isinstance(layer, keras.layers.EinsumDense) else DENSE_EQUATION
    return np.einsum(factorize_einsum(equation).merge_equation, lora_a, lora_b)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_modules_and_layouts_agree_with_keras_hub_converters(family):
    family = FAMILIES[family]
    model = family.make_model(0)
    architecture = keras_adapters.saving.get_peft_architecture(model.backbone)
    assert sorted(architecture.modules) == sorted(family.modules)
    if family.name == "xlm_roberta":
        assert architecture.name == "roberta"
    placements, shapes = trace_conversion(model, family)
    by_key = {}
    for key, variable, placed in placements:
        by_key.setdefault(key, []).append((variable, placed))
    modules = hf_modules(ModelContext(model), architecture, architecture.model_prefix)
    rng = np.random.default_rng(0)
    for i in range(model.backbone.num_layers):
        for name in family.modules:
            module = modules[family.peft_module(i, name)]  # the task class's module path
            kernels = {id(p.layer.kernel): p for p in module.parts}
            ported = by_key[family.converter_key(i, name)]
            assert {id(v) for v, _ in ported} == set(kernels), (i, name)
            lora_a = rng.normal(size=(3, module.in_features))
            lora_b = rng.normal(size=(module.out_features, 3))
            delta = lora_b @ lora_a  # [out, in], a torch.nn.Linear weight
            hf_delta = delta.T if family.conv1d else delta
            assert hf_delta.shape == shapes[family.converter_key(i, name)]
            for variable, placed in ported:
                part = kernels[id(variable)]
                ours = _delta(part.layer, *part.keras_factors(lora_a, lora_b))
                np.testing.assert_allclose(ours, hf_delta.ravel()[placed], atol=1e-12)


@pytest.mark.parametrize("family", ["llama3", "mistral"])
def test_embedding_modules_agree_with_keras_hub_converters(family):
    family = FAMILIES[family]
    model = family.make_model(0)
    architecture = keras_adapters.saving.get_peft_architecture(model.backbone)
    placements, shapes = trace_conversion(model, family)
    saved = architecture.saved_module_paths(architecture.model_prefix, task=True)
    for key, variable, placed in placements:
        if key not in family.embeddings:
            continue
        record = saved[key.removesuffix(".weight")]
        assert variable.path == f"{record.layer}/{record.weights['weight']}"
        index = np.arange(np.prod(shapes[key])).reshape(shapes[key])
        expected = index.T if "weight" in record.transposed else index
        np.testing.assert_array_equal(placed, expected)


def test_every_required_architecture_is_registered():
    names = {a.name for a in keras_adapters.saving.peft_architectures()}
    assert {"bert", "roberta", "distil_bert", "llama", "mistral", "qwen", "gemma", "gpt2"} <= names


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bert-base-uncased", "bert"),
        ("distilbert/distilbert-base-uncased", "distil_bert"),
        ("FacebookAI/roberta-base", "roberta"),
        ("meta-llama/Llama-3.2-1B", "llama"),
        ("HuggingFaceTB/SmolLM2-135M", "llama"),
        ("mistralai/Mistral-7B-v0.1", "mistral"),
        ("Qwen/Qwen2.5-0.5B", "qwen"),
        ("google/gemma-2b", "gemma"),
        ("openai-community/gpt2", "gpt2"),
        ("distilgpt2", "gpt2"),
        ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "llama"),
        ("microsoft/deberta-v3-base", None),  # "bert" inside a word is no hint
        ("answerdotai/ModernBERT-base", None),
        ("./checkpoints/my-model", None),
    ],
)
def test_base_model_names(name, expected):
    named = architecture_named_by(name)
    assert [a.name for a in named] == ([expected] if expected else [])


RECORD = dict(
    name="tiny",
    backbone_classes=(keras_hub.models.BertBackbone,),
    blocks="encoder.layer",
    modules={"attention.self.query": ("query",)},
)

BAD_RECORDS = {
    "name": (dict(name="a-b"), "`name` must be an identifier"),
    "backbone": (dict(backbone_classes=(int,)), "`backbone_classes` must be a non-empty tuple"),
    "unspecced_backbone": (
        dict(backbone_classes=(keras_hub.models.Backbone,)),
        "Backbone class Backbone is not supported",
    ),
    "blocks": (dict(blocks="encoder/layer"), "`blocks` must be a dotted module path"),
    "prefix": (dict(model_prefix="bert"), "`model_prefix` must be '' or a module path ending"),
    "layout": (dict(layout="transposed"), r"`layout` must be one of \('linear', 'conv1d'\)"),
    "not_projection": (
        dict(modules={"attention.output.LayerNorm": ("attention_norm",)}),
        "names 'attention_norm', which is not a projection slot",
    ),
    "slot_twice": (
        dict(modules={"query": ("query",), "q": ("query",)}),
        "Slot 'query' is held by both 'query' and 'q'",
    ),
    "slot_not_in_spec": (
        dict(modules={"mlp.gate_proj": ("ffn_gate",)}),
        r"needs the block slots \['ffn_gate'\], which the BertBackbone spec does not define",
    ),
    "default_targets": (
        dict(default_target_modules=("q_proj",)),
        r"`default_target_modules` \['q_proj'\] match none of the modules",
    ),
    "hints": (dict(name_hints=("BERT",)), "`name_hints` must be non-empty lower-case strings"),
    "saved_module": (
        dict(saved_modules={"classifier": "logits"}),
        r"`saved_modules\['classifier'\]` must be a SavedModule",
    ),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_records_are_checked_on_creation(case):
    change, match = BAD_RECORDS[case]
    with pytest.raises(ValueError, match=match):
        PeftArchitecture(**{**RECORD, **change})


def test_saved_modules_and_registry_are_checked():
    with pytest.raises(ValueError, match="`transposed` must list keys of `weights`"):
        SavedModule("logits", {"weight": "kernel"}, transposed=("bias",))
    with pytest.raises(ValueError, match="`layer` must be the path of a Keras layer"):
        SavedModule("", {"weight": "kernel"})
    with pytest.raises(ValueError, match=r"already registered"):
        keras_adapters.saving.register_peft_architecture(PeftArchitecture(**RECORD))
    with pytest.raises(ValueError, match="must be a PeftArchitecture"):
        keras_adapters.saving.register_peft_architecture(RECORD)


def test_a_new_backbone_is_one_record(tmp_path):
    class TinyQueryOnlyBert(keras_hub.models.BertBackbone):
        pass

    keras_adapters.saving.register_peft_architecture(
        PeftArchitecture(**{**RECORD, "backbone_classes": (TinyQueryOnlyBert,)})
    )
    backbone = TinyQueryOnlyBert(
        vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16
    )
    config = keras_adapters.LoraConfig(rank=2, targets=["query", "value"])
    keras_adapters.add_adapter(backbone, config, "task", verbose=False)
    with pytest.raises(
        ValueError, match="site at 'transformer_layer_0/self_attention_layer/value'"
    ):
        keras_adapters.save_peft_adapter(backbone, tmp_path / "a")
    keras_adapters.delete_adapter(backbone, "task")
    keras_adapters.add_adapter(
        backbone, keras_adapters.LoraConfig(rank=2, targets=["query"]), "q", verbose=False
    )
    keras_adapters.save_peft_adapter(backbone, tmp_path / "b")
    fresh = TinyQueryOnlyBert.from_config(backbone.get_config())
    keras_adapters.load_peft_adapter(fresh, tmp_path / "b")
    assert keras_adapters.list_adapters(fresh)["default"]["method"] == "lora"
