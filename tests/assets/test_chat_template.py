"""The SmolLM2 formatter against renderings of its Jinja template by hand.

The template (pinned in `SMOLLM2_CHAT_TEMPLATE`, checked against the real
GGUF by the slow test in test_load_causal_lm.py):
for each message, if it is the first and messages[0] is not a system
message, emit the default system turn; then emit
`<|im_start|>ROLE\\nCONTENT<|im_end|>\\n`; finally, if add_generation_prompt,
emit `<|im_start|>assistant\\n`.
"""

import pytest

from keras_adapters.assets import apply_chat_template
from keras_adapters.assets.chat_template import SMOLLM2_CHAT_TEMPLATE

SYSTEM = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n"
)


def user(text):
    return {"role": "user", "content": text}


def test_pinned_template_names_the_default_system_prompt():
    assert SYSTEM in SMOLLM2_CHAT_TEMPLATE.replace("\\n", "\n")


@pytest.mark.parametrize(
    "messages, add_generation_prompt, expected",
    [
        (
            [user("What is the capital of France?")],
            True,
            SYSTEM + "<|im_start|>user\nWhat is the capital of France?"
            "<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            [user("Hi")],
            False,
            SYSTEM + "<|im_start|>user\nHi<|im_end|>\n",
        ),
        (
            [{"role": "system", "content": "Be brief."}, user("Hi")],
            True,
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            [
                user("Hi"),
                {"role": "assistant", "content": "Hello!"},
                user("Bye"),
            ],
            True,
            SYSTEM + "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
        ),
        # A system message later on does not stop the default one.
        (
            [user("a"), {"role": "system", "content": "b"}],
            False,
            SYSTEM + "<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n",
        ),
        # No messages: the loop emits nothing, not even the system turn.
        ([], True, "<|im_start|>assistant\n"),
        ([], False, ""),
        # Content is inserted verbatim (no stripping, no escaping).
        (
            [user("  <b>x</b>\n")],
            False,
            SYSTEM + "<|im_start|>user\n  <b>x</b>\n<|im_end|>\n",
        ),
    ],
)
def test_smollm2_template(messages, add_generation_prompt, expected):
    assert (
        apply_chat_template(
            messages,
            preset="smollm2_135m_instruct",
            add_generation_prompt=add_generation_prompt,
        )
        == expected
    )


def test_defaults_and_tuples():
    assert apply_chat_template((user("Hi"),)) == apply_chat_template(
        [user("Hi")], "smollm2_135m_instruct", True
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"preset": "minilm_l6"}, "Received: preset='minilm_l6'"),
        ({"messages": "Hi"}, "Received: messages='Hi'"),
        ({"messages": [{"role": "user"}]}, "Received: {'role': 'user'}"),
        (
            {"messages": [{"role": "user", "content": 3}]},
            "str values 'role' and 'content'",
        ),
        ({"add_generation_prompt": 1}, "Received: add_generation_prompt=1"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"messages": [user("Hi")], **kwargs}
    with pytest.raises(ValueError, match=message):
        apply_chat_template(**arguments)
