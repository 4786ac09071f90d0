"""`read_gguf`: metadata and float32 tensors of a GGUF file (llama.cpp)."""

import collections
import os
import pathlib

import numpy as np

GGUFContents = collections.namedtuple("GGUFContents", ["metadata", "tensors", "tensor_types"])


def read_gguf(path, tensors=True):
    """Reads a GGUF file: its metadata and every tensor as float32.

    GGUF is llama.cpp's single-file format: key/value metadata (architecture
    hyperparameters, tokenizer vocabulary, chat template) followed by
    tensors that are often block-quantised (Q4_1, Q8_0, Q4_K, ...). Every
    tensor is dequantised to float32 with the `gguf` package's NumPy
    dequantisers and given the NumPy shape of the original matrix, e.g.
    `(out_features, in_features)` for a projection. Names and layouts stay
    as llama.cpp wrote them (`blk.0.attn_q.weight`, q/k rows permuted).

    Args:
        path: str or `os.PathLike`. The `.gguf` file.
        tensors: bool. Whether to dequantise the tensors. With `False`
            only the metadata is read (fast) and `tensors` is an empty dict.

    Returns:
        A namedtuple `(metadata, tensors, tensor_types)`: `metadata` maps
        each key (e.g. `"llama.block_count"`) to a Python value (int,
        float, bool, str or list); `tensors` maps each tensor name to a
        float32 `np.ndarray`; `tensor_types` maps each tensor name to its
        stored type name (e.g. `"Q4_1"`).

    Example:
    ```python
    contents = keras_adapters.assets.read_gguf("model.gguf")
    contents.metadata["general.architecture"]  # "llama"
    contents.tensors["token_embd.weight"].shape  # (49152, 576)
    ```
    """
    import gguf

    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"`path` must be a path to a .gguf file. Received: path={path!r}")
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No GGUF file at this path. Received: path={str(path)!r}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ValueError(
            "Not a GGUF file: it must start with the 4 bytes b'GGUF'. "
            f"Received: path={str(path)!r} starting with {magic!r}"
        )
    try:
        reader = gguf.GGUFReader(path, "r")
    except Exception as error:  # Truncated or malformed after the magic.
        raise ValueError(
            f"The GGUF file could not be parsed ({error}). It may be "
            f"truncated or damaged. Received: path={str(path)!r}"
        ) from error
    metadata = {name: _field_value(field) for name, field in reader.fields.items()}
    tensor_types = {t.name: t.tensor_type.name for t in reader.tensors}
    arrays = {}
    if tensors:
        for tensor in reader.tensors:
            arrays[tensor.name] = _dequantize(gguf, tensor, path)
    del reader  # Closes the memory map.
    return GGUFContents(metadata, arrays, tensor_types)


def _field_value(field):
    value = field.contents()
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _dequantize(gguf, tensor, path):
    qtype = tensor.tensor_type
    # GGUF lists dimensions innermost first; NumPy wants them outermost first.
    shape = tuple(int(n) for n in reversed(tensor.shape))
    try:
        array = gguf.quants.dequantize(tensor.data, qtype)
    except NotImplementedError as error:
        raise ValueError(
            f"Tensor {tensor.name!r} in {path} has the type {qtype.name}, "
            f"which the installed `gguf` package cannot dequantise ({error})."
            " Types it can read include F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
            "Q8_0 and the K-quants."
        ) from error
    array = np.asarray(array, dtype=np.float32)
    if array.size != int(np.prod(shape)):
        raise ValueError(
            f"Tensor {tensor.name!r} in {path} dequantised to "
            f"{array.size} values, but its shape {shape} needs "
            f"{int(np.prod(shape))}. The file may be damaged."
        )
    # A copy detaches the array from the file's memory map.
    return np.array(array.reshape(shape), dtype=np.float32, copy=True)
