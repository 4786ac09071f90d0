"""The Hugging Face names of the supported architectures, registered on import.

Module names and slots follow KerasHub's converters
(`keras_hub/src/utils/transformers/convert_{bert,roberta,distilbert,llama3,
mistral,qwen,gemma,gpt2}.py`): the module KerasHub loads into a layer is the
module whose LoRA that layer receives. `tests/saving/peft/test_architectures.py`
runs those converters to check every name and layout here.
"""

import keras_hub

from keras_adapters.saving.peft.peft_architecture import PeftArchitecture
from keras_adapters.saving.peft.registry import register_peft_architecture
from keras_adapters.saving.peft.saved_module import SavedModule

LINEAR = {"weight": "kernel", "bias": "bias"}


def _linear(layer, peft_name=None):
    """A `torch.nn.Linear` saved whole, held by a Keras `Dense` at `layer`."""
    return SavedModule(layer, LINEAR, transposed=("weight",), peft_name=peft_name)


def _embedding(layer):
    return SavedModule(layer, {"weight": "embeddings"})


ENCODER_MODULES = {
    "attention.self.query": ("query",),
    "attention.self.key": ("key",),
    "attention.self.value": ("value",),
    "attention.output.dense": ("attention_output",),
    "intermediate.dense": ("ffn_intermediate",),
    "output.dense": ("ffn_output",),
}

LLAMA_MODULES = {
    "self_attn.q_proj": ("query",),
    "self_attn.k_proj": ("key",),
    "self_attn.v_proj": ("value",),
    "self_attn.o_proj": ("attention_output",),
    "mlp.gate_proj": ("ffn_gate",),
    "mlp.up_proj": ("ffn_intermediate",),
    "mlp.down_proj": ("ffn_output",),
}
LLAMA_DEFAULT_TARGETS = ("q_proj", "v_proj")
DECODER_EMBEDDINGS = {
    "{model}embed_tokens": _embedding("token_embedding"),
    # Untied models only: KerasHub keeps `lm_head` as the reverse embeddings.
    "lm_head": SavedModule(
        "token_embedding", {"weight": "reverse_embeddings"}, transposed=("weight",)
    ),
}

BERT = PeftArchitecture(
    name="bert",
    backbone_classes=(keras_hub.models.BertBackbone,),
    blocks="encoder.layer",
    modules=ENCODER_MODULES,
    model_prefix="bert.",
    default_target_modules=("query", "value"),
    name_hints=("bert",),
    saved_modules={
        "classifier": _linear("logits"),
        "{model}pooler.dense": _linear("pooled_dense"),
        "{model}embeddings.word_embeddings": _embedding("token_embedding"),
    },
)

ROBERTA = PeftArchitecture(  # XLMRobertaBackbone subclasses RobertaBackbone: covered too
    name="roberta",
    backbone_classes=(keras_hub.models.RobertaBackbone,),
    blocks="encoder.layer",
    modules=ENCODER_MODULES,
    model_prefix="roberta.",
    default_target_modules=("query", "value"),
    name_hints=("roberta",),
    saved_modules={
        # `RobertaClassificationHead`: dense + tanh, then out_proj.
        "classifier.dense": _linear("pooled_dense", peft_name="classifier"),
        "classifier.out_proj": _linear("logits", peft_name="classifier"),
        "{model}embeddings.word_embeddings": _embedding("embeddings/token_embedding"),
    },
)

DISTIL_BERT = PeftArchitecture(
    name="distil_bert",
    backbone_classes=(keras_hub.models.DistilBertBackbone,),
    blocks="transformer.layer",
    modules={
        "attention.q_lin": ("query",),
        "attention.k_lin": ("key",),
        "attention.v_lin": ("value",),
        "attention.out_lin": ("attention_output",),
        "ffn.lin1": ("ffn_intermediate",),
        "ffn.lin2": ("ffn_output",),
    },
    model_prefix="distilbert.",
    default_target_modules=("q_lin", "v_lin"),
    name_hints=("distilbert",),
    saved_modules={
        "pre_classifier": _linear("pooled_dense"),
        "classifier": _linear("logits"),
        "{model}embeddings.word_embeddings": _embedding(
            "token_and_position_embedding/token_embedding"
        ),
    },
)

LLAMA = PeftArchitecture(
    name="llama",
    backbone_classes=(keras_hub.models.LlamaBackbone, keras_hub.models.Llama3Backbone),
    blocks="layers",
    modules=LLAMA_MODULES,
    model_prefix="model.",
    default_target_modules=LLAMA_DEFAULT_TARGETS,
    name_hints=("llama", "tinyllama", "smollm2", "smollm-"),
    saved_modules=DECODER_EMBEDDINGS,
)

MISTRAL = PeftArchitecture(
    name="mistral",
    backbone_classes=(keras_hub.models.MistralBackbone,),
    blocks="layers",
    modules=LLAMA_MODULES,
    model_prefix="model.",
    default_target_modules=LLAMA_DEFAULT_TARGETS,
    name_hints=("mistral",),
    saved_modules=DECODER_EMBEDDINGS,
)

QWEN = PeftArchitecture(
    name="qwen",
    backbone_classes=(keras_hub.models.QwenBackbone,),
    blocks="layers",
    modules=LLAMA_MODULES,
    model_prefix="model.",
    default_target_modules=LLAMA_DEFAULT_TARGETS,
    name_hints=("qwen2", "qwen1.5"),
    saved_modules=DECODER_EMBEDDINGS,
)

GEMMA = PeftArchitecture(
    name="gemma",
    backbone_classes=(keras_hub.models.GemmaBackbone,),
    blocks="layers",
    modules=LLAMA_MODULES,  # KerasHub: gate_proj -> gating_ffw, up_proj -> gating_ffw_2
    model_prefix="model.",
    default_target_modules=LLAMA_DEFAULT_TARGETS,
    name_hints=("gemma",),
    saved_modules={"{model}embed_tokens": _embedding("token_embedding")},
)

GPT2 = PeftArchitecture(
    name="gpt2",
    backbone_classes=(keras_hub.models.GPT2Backbone,),
    blocks="h",
    modules={
        "attn.c_attn": ("query", "key", "value"),
        "attn.c_proj": ("attention_output",),
        "mlp.c_fc": ("ffn_intermediate",),
        "mlp.c_proj": ("ffn_output",),
    },
    model_prefix="transformer.",
    layout="conv1d",
    default_target_modules=("c_attn",),
    name_hints=("gpt2", "gpt-2", "distilgpt2"),
    saved_modules={"{model}wte": _embedding("token_embedding")},
)

for _architecture in (BERT, ROBERTA, DISTIL_BERT, LLAMA, MISTRAL, QWEN, GEMMA, GPT2):
    register_peft_architecture(_architecture)
