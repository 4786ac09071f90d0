"""Adapter layers: the modules, and the wrappers that insert them."""

from keras_adapters.layers.adapter_wrapper import AdapterWrapper
from keras_adapters.layers.bottleneck_adapter import BottleneckAdapter
from keras_adapters.layers.einsum_factorization import EinsumFactorization
from keras_adapters.layers.einsum_factorization import factorize_einsum
from keras_adapters.layers.layer_chain import LayerChain
from keras_adapters.layers.layer_chain import MovedSlot
from keras_adapters.layers.lora_einsum_dense import LoraDense
from keras_adapters.layers.lora_einsum_dense import LoraEinsumDense
from keras_adapters.layers.lora_embedding import LoraEmbedding
from keras_adapters.layers.lora_weights import LoraWeights
from keras_adapters.layers.lora_wrapper import LoraWrapper
from keras_adapters.layers.parallel_adapter_site import ParallelAdapterSite
from keras_adapters.layers.post_norm_adapter_site import PostNormAdapterSite
from keras_adapters.layers.prefix_attention import PrefixAttention
from keras_adapters.layers.prefix_encoder import PrefixEncoder
from keras_adapters.layers.serial_adapter_site import SerialAdapterSite
