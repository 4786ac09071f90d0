"""Adapter layers: the modules, and the wrappers that insert them.

A public namespace: the wrapper bases live in `keras_adapters.core`, each
method's layers with its method in `keras_adapters.methods`.
"""

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.layer_chain import LayerChain
from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.core.moved_slot import MovedSlot
from keras_adapters.methods.adalora.adalora_weights import AdaLoraWeights
from keras_adapters.methods.bottleneck.bottleneck_adapter import BottleneckAdapter
from keras_adapters.methods.bottleneck.bottleneck_site import BottleneckSite
from keras_adapters.methods.bottleneck.input_tap import InputTap
from keras_adapters.methods.bottleneck.parallel_adapter_site import ParallelAdapterSite
from keras_adapters.methods.bottleneck.post_norm_adapter_site import PostNormAdapterSite
from keras_adapters.methods.bottleneck.serial_adapter_site import SerialAdapterSite
from keras_adapters.methods.bottleneck.tap_module import TapModule
from keras_adapters.methods.bottleneck.tapped_parallel_site import TappedParallelSite
from keras_adapters.methods.dora.dora_dense import DoraDense
from keras_adapters.methods.dora.dora_einsum_dense import DoraEinsumDense
from keras_adapters.methods.dora.dora_weights import DoraWeights
from keras_adapters.methods.fusion.fusion_layer import FusionLayer
from keras_adapters.methods.ia3.ia3_dense import IA3Dense
from keras_adapters.methods.ia3.ia3_einsum_dense import IA3EinsumDense
from keras_adapters.methods.ia3.ia3_vector import IA3Vector
from keras_adapters.methods.lora.einsum_factorization import (
    EinsumFactorization,
    align_axes,
    factorize_einsum,
)
from keras_adapters.methods.lora.lora_dense import LoraDense
from keras_adapters.methods.lora.lora_einsum_dense import LoraEinsumDense
from keras_adapters.methods.lora.lora_embedding import LoraEmbedding
from keras_adapters.methods.lora.lora_weights import LoraWeights
from keras_adapters.methods.lora.lora_wrapper import LoraWrapper
from keras_adapters.methods.prefix.prefix_attention import PrefixAttention
from keras_adapters.methods.prefix.prefix_encoder import PrefixEncoder
from keras_adapters.methods.prompt.prompt_embedding import PromptEmbedding
from keras_adapters.methods.prompt.prompt_positions import PromptPositions
from keras_adapters.methods.prompt.prompt_preprocessor import PromptPreprocessor
from keras_adapters.methods.prompt.soft_prompt import SoftPrompt
