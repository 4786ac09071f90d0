"""`apply_chat_template`: a preset's chat prompt format, in plain Python.

Each causal LM preset ships a Jinja chat template in its GGUF metadata
(`tokenizer.chat_template`). Rather than depend on Jinja, each template is
pinned here verbatim next to a small formatter that renders it exactly;
tests check the pinned text against the real file.
"""

# SmolLM2-135M-Instruct: ChatML with a default system prompt.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] "
    "!= 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant "
    "named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def _format_smollm2(messages, add_generation_prompt):
    parts = []
    for index, message in enumerate(messages):
        if index == 0 and messages[0]["role"] != "system":
            parts.append(f"<|im_start|>system\n{SMOLLM2_DEFAULT_SYSTEM}<|im_end|>\n")
        parts.append(f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


# Preset name -> (the Jinja template it renders, the formatter).
CHAT_TEMPLATES = {
    "smollm2_135m_instruct": (SMOLLM2_CHAT_TEMPLATE, _format_smollm2),
}


def apply_chat_template(messages, preset="smollm2_135m_instruct", add_generation_prompt=True):
    """Formats a conversation as the prompt string a chat preset expects.

    Renders exactly what the preset's own chat template (the Jinja text in
    its GGUF metadata, `tokenizer.chat_template`) renders, without Jinja.
    For `"smollm2_135m_instruct"` that is ChatML, with SmolLM's default
    system message when the first message is not a system message.

    Args:
        messages: list of dicts with str values `"role"` (e.g. `"system"`,
            `"user"`, `"assistant"`) and `"content"`.
        preset: str. A causal LM preset with a chat template (see
            `keras_adapters.assets.list_causal_lm_presets`).
        add_generation_prompt: bool. Whether to end with the header that
            opens the assistant's turn, so that the model writes the
            answer. Defaults to `True` (Hugging Face's default is `False`).

    Returns:
        A str, to pass to `causal_lm.generate`.

    Example:
    ```python
    prompt = keras_adapters.assets.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}]
    )
    causal_lm = keras_adapters.assets.load_causal_lm_preset()
    causal_lm.generate(prompt, max_length=64)
    ```
    """
    if not isinstance(preset, str) or preset not in CHAT_TEMPLATES:
        raise ValueError(
            "No chat template for this preset. Presets with a chat template: "
            f"{sorted(CHAT_TEMPLATES)}. Received: preset={preset!r}"
        )
    if not isinstance(add_generation_prompt, bool):
        raise ValueError(
            "`add_generation_prompt` must be a bool. "
            f"Received: add_generation_prompt={add_generation_prompt!r}"
        )
    if isinstance(messages, (str, dict)) or not isinstance(messages, (list, tuple)):
        raise ValueError(
            "`messages` must be a list of dicts with keys 'role' and "
            f"'content'. Received: messages={messages!r}"
        )
    for message in messages:
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise ValueError(
                "Each message must be a dict with str values 'role' and "
                f"'content'. Received: {message!r}"
            )
    _, formatter = CHAT_TEMPLATES[preset]
    return formatter(list(messages), add_generation_prompt)
