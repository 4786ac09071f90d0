"""Reading a safetensors file as float32 NumPy arrays, bfloat16 included.

The format is a little-endian u64 header length, a JSON header
`{name: {"dtype", "shape", "data_offsets"}}` and the raw tensor bytes; it
holds no code. `safetensors.numpy` cannot return bfloat16 (NumPy has no such
type), and PEFT adapters trained in bfloat16 are common, so this reads the
bytes itself.
"""

import json
import math
import pathlib
import struct

import numpy as np

MAX_HEADER_BYTES = 100 * 1024 * 1024
FLOAT_TYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def read_safetensors(path):
    """`{name: float32 array}` of a safetensors file of floating-point tensors.

    Raises a `ValueError` naming the file for anything that is not a
    well-formed safetensors file of F64, F32, F16 or BF16 tensors.
    """
    path = pathlib.Path(path)
    data = path.read_bytes()
    try:
        tensors = _parse(data)
    except ValueError as error:
        raise ValueError(f"Cannot read the safetensors file {str(path)!r}: {error}") from None
    return tensors


def _parse(data):
    if len(data) < 8:
        raise ValueError("the file is shorter than its 8-byte header length")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ValueError(f"the header length {header_size} does not fit the file")
    try:
        header = json.loads(data[8 : 8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    body = memoryview(data)[8 + header_size :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(name, entry, body)
    return tensors


def _tensor(name, entry, body):
    if not isinstance(entry, dict):
        raise ValueError(f"tensor {name!r} has no description")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in FLOAT_TYPES:
        raise ValueError(
            f"tensor {name!r} has dtype {dtype!r}; LoRA weights must be one of {sorted(FLOAT_TYPES)}"
        )
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise ValueError(f"tensor {name!r} has an invalid shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) for o in offsets)
        and 0 <= offsets[0] <= offsets[1] <= len(body)
    ):
        raise ValueError(f"tensor {name!r} has invalid data offsets {offsets!r}")
    item = np.dtype(FLOAT_TYPES[dtype])
    if offsets[1] - offsets[0] != math.prod(shape) * item.itemsize:
        raise ValueError(f"tensor {name!r}: {offsets} bytes do not hold a {dtype} {shape}")
    values = np.frombuffer(body[offsets[0] : offsets[1]], dtype=item).reshape(shape)
    if dtype == "BF16":  # the upper half of a float32
        return (values.astype(np.uint32) << 16).view(np.float32)
    return values.astype(np.float32)
