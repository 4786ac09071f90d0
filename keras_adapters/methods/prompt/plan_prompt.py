"""Where prompt tuning goes: the token embedding, and the task's preprocessor if it has one."""

import keras
import keras_hub
import numpy as np

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.prompt.prompt_embedding import PromptEmbedding
from keras_adapters.methods.prompt.prompt_positions import PromptPositions
from keras_adapters.methods.prompt.prompt_preprocessor import PromptPreprocessor
from keras_adapters.methods.prompt.soft_prompt import SoftPrompt
from keras_adapters.planning.layer_tree import innermost
from keras_adapters.planning.site import Site

PREPROCESSOR_LOCATION = "preprocessor"


def find_prompt_sites(context, config):
    """The token embedding's site, then the preprocessor's (checks lengths and `init_text`)."""
    owner, attribute = context.token_embedding_slot()
    embedding = innermost(getattr(owner, attribute))
    sites = [Site(embedding.path, owner, attribute, PromptEmbedding, embedding)]
    preprocessor = innermost(getattr(context.root, "preprocessor", None))
    if preprocessor is not None:
        if not isinstance(preprocessor, keras_hub.models.Preprocessor):
            raise ValueError(
                "Prompt tuning reserves its positions in the task's preprocessor, which must be "
                f"a `keras_hub.models.Preprocessor`. Received: {type(preprocessor).__name__}. "
                "Set `model.preprocessor = None` and reserve them with "
                "`keras_adapters.reserve_prompt_positions`."
            )
        _check_length(context, preprocessor, config.num_virtual_tokens)
        sites.append(
            Site(
                PREPROCESSOR_LOCATION,
                context.root,
                "preprocessor",
                PromptPreprocessor,
                preprocessor,
            )
        )
    if config.init_text is not None and not context.restoring:
        initial_token_ids(config, context, embedding.input_dim)  # tokenises and checks it now
    return sites


def build_prompt_module(config, site, context, name):
    """A `SoftPrompt` (initialised from token embeddings) or the preprocessor's `PromptPositions`."""
    if site.wrapper_class is PromptPreprocessor:
        return PromptPositions(
            config.num_virtual_tokens, vocabulary_size=_embedding(context).input_dim, name=name
        )
    embedding = site.layer
    module = SoftPrompt(
        config.num_virtual_tokens,
        embedding_dim=embedding.output_dim,
        dtype=adapter_dtype_policy(embedding.dtype_policy),
        name=name,
    )
    module.build()
    if context.restoring:
        return module  # the saved prompt is loaded next
    ids = initial_token_ids(config, context, embedding.input_dim)
    table = keras.ops.convert_to_numpy(keras.ops.cast(embedding.embeddings, "float32"))
    module.embeddings.assign(table[ids])
    return module


def initial_token_ids(config, context, vocabulary_size):
    """The `P` token ids whose embeddings start the prompt (see `PromptConfig`)."""
    length = config.num_virtual_tokens
    if config.init_text is not None:
        ids = _tokenize(context, config.init_text)
        if len(ids) > length:
            raise ValueError(
                f"`init_text` is {len(ids)} tokens long, more than num_virtual_tokens={length}. "
                f"Received: init_text={config.init_text!r}"
            )
    elif config.init_token_ids is not None:
        ids = list(config.init_token_ids)
    else:
        ids = keras.random.randint((length,), 0, vocabulary_size, dtype="int32")
        ids = keras.ops.convert_to_numpy(ids).tolist()
    bad = [i for i in ids if not 0 <= i < vocabulary_size]
    if bad:
        raise ValueError(
            f"Prompt initialisation ids must be token ids below the vocabulary size "
            f"{vocabulary_size}; got {bad}. Received: init_token_ids={config.init_token_ids!r}"
        )
    return np.resize(np.asarray(ids, "int64"), length)  # repeated to fill P


def _tokenize(context, text):
    tokenizer = getattr(innermost(getattr(context.root, "preprocessor", None)), "tokenizer", None)
    if tokenizer is None:
        raise ValueError(
            "`init_text` is tokenised by the model's preprocessor, and this model has none. "
            "Add the adapter to a KerasHub task with a preprocessor, or give `init_token_ids`. "
            f"Received: init_text={text!r}"
        )
    ids = np.asarray(keras.ops.convert_to_numpy(tokenizer(text))).reshape(-1).tolist()
    if not ids:
        raise ValueError(f"`init_text` tokenises to no tokens. Received: init_text={text!r}")
    return ids


def _check_length(context, preprocessor, count):
    limit = getattr(context.backbone, "max_sequence_length", None)
    length = getattr(preprocessor, "sequence_length", None)
    if limit is None or length is None or length + count <= limit:
        return
    raise ValueError(
        f"With num_virtual_tokens={count}, the preprocessor's sequences of {length} tokens grow "
        f"to {length + count}, beyond the {limit} positions of {context.spec.name}. Lower "
        f"`preprocessor.sequence_length` to at most {limit - count} first."
    )


def _embedding(context):
    owner, attribute = context.token_embedding_slot()
    return innermost(getattr(owner, attribute))
