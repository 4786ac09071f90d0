"""PEFT's tensor keys, and finding the Keras layers and weights they go to.

`get_peft_model_state_dict` drops the adapter name, so a LoRA module at
`<module>` is saved as `base_model.model.<module>.lora_A.weight`,
`....lora_B.weight` and, with DoRA, `....lora_magnitude_vector`; a
`modules_to_save` module as `base_model.model.<module>.<parameter>`.
"""

KEY_PREFIX = "base_model.model."
LORA_A = "lora_A"
LORA_B = "lora_B"
MAGNITUDE = "lora_magnitude_vector"
SUFFIXES = {LORA_A: ".lora_A.weight", LORA_B: ".lora_B.weight", MAGNITUDE: ".lora_magnitude_vector"}
# Modules a `SEQ_CLS` PeftModel adds to `modules_to_save` by itself.
SEQ_CLS_HEADS = ("classifier", "score")


def lora_key(module, kind):
    """The file key of `kind` (`LORA_A`, `LORA_B`, `MAGNITUDE`) of the module at `module`."""
    return KEY_PREFIX + module + SUFFIXES[kind]


def parse_key(key):
    """`(module path, kind)`: kind is `LORA_A`, `LORA_B`, `MAGNITUDE` or a parameter name.

    `(None, None)` for a key without PEFT's `base_model.model.` prefix.
    """
    if not key.startswith(KEY_PREFIX):
        return None, None
    for kind, suffix in SUFFIXES.items():
        if key.endswith(suffix):
            return key[len(KEY_PREFIX) : -len(suffix)], kind
    module, _, parameter = key[len(KEY_PREFIX) :].rpartition(".")
    return (module, parameter) if module else (None, None)


def find_layer(model, path):
    """The layer of `model` whose `layer.path` is `path`, or `None`."""
    for layer in model._flatten_layers(include_self=False):
        if layer.path == path:
            return layer
    return None


def find_weight(layer, name):
    """The weight of `layer` itself named `name` (`kernel`, `embeddings`...), or `None`."""
    for variable in layer.weights:
        if variable.path == f"{layer.path}/{name}":
            return variable
    return None
