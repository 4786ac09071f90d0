"""Tiny KerasHub decoder LLMs (a few thousand parameters), one per supported family.

Each configuration exercises what makes its family different: grouped-query
attention (fewer key/value heads) wherever the family has it, GPT-NeoX's
partial rotary, Phi-3's "su" scaled rotary, Llama 3.1's frequency-adjusted
rotary, Qwen 3's separate head size, Gemma's soft cap and query scaling
(Gemma 2 style), Gemma 3's query/key norms, post norms and sliding window
(smaller than `LENGTH`) on five of its six layers. Sequences are right-padded
like a KerasHub preprocessor pads them.
"""

import dataclasses

import keras
import keras_hub
import numpy as np

from tests.support.tiny_models import randomize_weights

VOCABULARY = 64
HIDDEN = 16
LENGTH = 8  # test sequences; sliding windows below are shorter


@dataclasses.dataclass(frozen=True)
class DecoderFamily:
    """One KerasHub decoder family in its tiny form.

    Attributes:
        name: key of `FAMILIES`.
        backbone_class: the KerasHub backbone.
        causal_lm_class: its CausalLM task.
        config: constructor arguments of the tiny backbone.
        mask_argument: the block's padding-mask argument name.
    """

    name: str
    backbone_class: type
    causal_lm_class: type
    config: dict
    mask_argument: str = "decoder_padding_mask"


_GQA = dict(num_query_heads=4, num_key_value_heads=2)  # head size 16 / 4 = 4
_COMMON = dict(vocabulary_size=VOCABULARY, num_layers=2, hidden_dim=HIDDEN)

FAMILIES = {
    family.name: family
    for family in (
        DecoderFamily(
            "gpt2",
            keras_hub.models.GPT2Backbone,
            keras_hub.models.GPT2CausalLM,
            dict(**_COMMON, num_heads=2, intermediate_dim=32, max_sequence_length=32),
        ),
        DecoderFamily(
            "opt",
            keras_hub.models.OPTBackbone,
            keras_hub.models.OPTCausalLM,
            dict(**_COMMON, num_heads=2, intermediate_dim=32, max_sequence_length=32),
        ),
        DecoderFamily(
            "gpt_neo_x",
            keras_hub.models.GPTNeoXBackbone,
            keras_hub.models.GPTNeoXCausalLM,
            dict(
                **_COMMON,
                num_heads=2,
                intermediate_dim=32,
                rotary_percentage=0.5,  # head size 8, rotary on the first 4
                layer_norm_epsilon=1e-5,
                max_sequence_length=32,
            ),
        ),
        DecoderFamily(
            "llama",
            keras_hub.models.LlamaBackbone,
            keras_hub.models.LlamaCausalLM,
            dict(**_COMMON, **_GQA, intermediate_dim=32, layer_norm_epsilon=1e-5),
        ),
        DecoderFamily(
            "llama3",
            keras_hub.models.Llama3Backbone,
            keras_hub.models.Llama3CausalLM,
            dict(
                **_COMMON,
                num_query_heads=2,
                num_key_value_heads=1,
                intermediate_dim=32,
                layer_norm_epsilon=1e-5,
                rope_max_wavelength=10000,
                # Llama 3.1 rotary: wavelengths 6.3 (kept), 63 (smoothed),
                # 628 (divided by 8) for head size 8.
                rope_frequency_adjustment_factor=8.0,
                rope_low_freq_factor=1.0,
                rope_high_freq_factor=4.0,
                rope_pretraining_sequence_length=100,
            ),
        ),
        DecoderFamily(
            "mistral",
            keras_hub.models.MistralBackbone,
            keras_hub.models.MistralCausalLM,
            dict(**_COMMON, **_GQA, intermediate_dim=32, layer_norm_epsilon=1e-6, sliding_window=3),
        ),
        DecoderFamily(
            "qwen",
            keras_hub.models.QwenBackbone,
            keras_hub.models.QwenCausalLM,
            dict(
                **_COMMON,
                **_GQA,
                intermediate_dim=32,
                layer_norm_epsilon=1e-6,
                use_sliding_window_attention=True,
                sliding_window_size=4,
            ),
        ),
        DecoderFamily(
            "qwen3",
            keras_hub.models.Qwen3Backbone,
            keras_hub.models.Qwen3CausalLM,
            dict(
                **_COMMON,
                **_GQA,
                head_dim=6,  # not hidden / heads
                intermediate_dim=32,
                # KerasHub 0.32 builds the q/k norms with epsilon 1e-5 whatever
                # this says (test_decoder_grid.py shows it): use the same here.
                layer_norm_epsilon=1e-5,
                sliding_window_size=5,
            ),
        ),
        DecoderFamily(
            "phi3",
            keras_hub.models.Phi3Backbone,
            keras_hub.models.Phi3CausalLM,
            dict(
                **_COMMON,
                **_GQA,
                intermediate_dim=32,
                layer_norm_epsilon=1e-5,
                max_sequence_length=64,
                pretraining_sequence_length=16,
                rope_scaling_type="su",
                rope_scaling_short_factor=[1.0, 1.5],
                rope_scaling_long_factor=[2.0, 4.0],
            ),
        ),
        DecoderFamily(
            "gemma",
            keras_hub.models.GemmaBackbone,
            keras_hub.models.GemmaCausalLM,
            dict(
                **_COMMON,
                **_GQA,
                head_dim=8,
                intermediate_dim=64,  # halved inside the block: 32
                layer_norm_epsilon=1e-6,
                # KerasHub 0.32's Gemma block ignores `query_head_dim_normalize`
                # (test_decoder_grid.py shows it): keep the value it uses.
                query_head_dim_normalize=True,
                use_post_ffw_norm=True,
                use_post_attention_norm=True,
                attention_logit_soft_cap=2.0,
                final_logit_soft_cap=30.0,
                use_sliding_window_attention=True,  # even layers
                sliding_window_size=3,
            ),
            mask_argument="padding_mask",
        ),
        DecoderFamily(
            "gemma3",
            keras_hub.models.Gemma3Backbone,
            keras_hub.models.Gemma3CausalLM,
            dict(
                vocabulary_size=VOCABULARY,
                image_size=16,
                num_layers=6,  # layers 0-4 sliding (rotary base 1e4), layer 5 global (1e6)
                hidden_dim=HIDDEN,
                num_query_heads=4,
                num_key_value_heads=1,
                head_dim=8,
                intermediate_dim=32,
                layer_norm_epsilon=1e-6,
                use_post_ffw_norm=True,
                use_post_attention_norm=True,
                use_sliding_window_attention=True,
                sliding_window_size=3,
            ),
            mask_argument="padding_mask",
        ),
    )
}


def make_backbone(family, seed=0, **overrides):
    """The tiny backbone of `family`, every weight random at unit-like scale."""
    keras.utils.set_random_seed(seed)
    spec = FAMILIES[family]
    backbone = spec.backbone_class(**{**spec.config, **overrides})
    # KerasHub's 0.02 initialisers would hide rotary embeddings, activations
    # and norm weights from the references: see `randomize_weights`.
    return randomize_weights(backbone, seed)


def make_causal_lm(family, seed=0, **overrides):
    """The tiny backbone inside its CausalLM task (no preprocessor)."""
    backbone = make_backbone(family, seed, **overrides)
    return FAMILIES[family].causal_lm_class(backbone=backbone, preprocessor=None)


def make_inputs(batch=3, length=LENGTH, seed=1):
    """Random token ids, right-padded: row `i` has `i` padding tokens at the end."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, VOCABULARY, size=(batch, length)).astype("int32")
    padding_mask = np.ones((batch, length), dtype="int32")
    for row in range(1, batch):
        padding_mask[row, length - row :] = 0
    return {"token_ids": token_ids * padding_mask, "padding_mask": padding_mask}


def pad_right(inputs, extra):
    """`inputs` with `extra` padding positions appended."""
    return {
        key: np.concatenate([value, np.zeros((value.shape[0], extra), value.dtype)], axis=1)
        for key, value in inputs.items()
    }
