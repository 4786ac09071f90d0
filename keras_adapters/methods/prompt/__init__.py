"""Prompt tuning (Lester et al. 2021): learned input embeddings in front of every sequence."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.prompt.plan_prompt import build_prompt_module, find_prompt_sites
from keras_adapters.methods.prompt.prompt_config import PromptConfig
from keras_adapters.methods.registry import register_method

PROMPT = register_method(
    AdapterMethod(
        config_class=PromptConfig, find_sites=find_prompt_sites, build_module=build_prompt_module
    )
)
