"""Fixtures for asset tests: small real wheels built in a temporary folder."""

import hashlib
import io
import zipfile

import pytest

from keras_adapters.assets import AssetRecord


def build_wheel(path, members):
    """Writes a zip wheel at `path` holding `members` ({name: bytes})."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr(
            "fake_asset-1.0.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: fake-asset\nVersion: 1.0.0\n",
        )
    data = buffer.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


class FakeWheel:
    """A small real wheel, a record pinning it, and a counting downloader."""

    def __init__(self, folder, members=None, wanted=None, name="fake_asset"):
        self.members = members or {
            "fake_asset/model/config.json": b'{"hidden": 8}',
            "fake_asset/model/weights.bin": bytes(range(256)) * 64,
            "fake_asset/model/vocab.txt": b"[PAD]\n[UNK]\nhello\n",
            "fake_asset/other/unwanted.txt": b"not extracted",
        }
        self.wanted = wanted or (
            "fake_asset/model/config.json",
            "fake_asset/model/weights.bin",
            "fake_asset/model/vocab.txt",
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.source = folder / "fake_asset-1.0.0-py3-none-any.whl"
        self.sha256 = build_wheel(self.source, self.members)
        self.record = AssetRecord(
            name=name,
            package="fake-asset",
            version="1.0.0",
            wheel_sha256=self.sha256,
            files=self.wanted,
            description="A fake asset for tests.",
            license="MIT",
        )
        self.calls = []

    def downloader(self, package, version, dest_dir):
        """Behaves like `pip download --no-deps`: copies the wheel."""
        self.calls.append((package, version, dest_dir))
        (dest_dir / self.source.name).write_bytes(self.source.read_bytes())


@pytest.fixture
def fake_wheel(tmp_path):
    return FakeWheel(tmp_path / "index")


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def make_fake_wheel(tmp_path):
    """Returns `make(subfolder, **kwargs) -> FakeWheel`."""

    def make(subfolder="index2", **kwargs):
        return FakeWheel(tmp_path / subfolder, **kwargs)

    return make


@pytest.fixture
def wheel_builder():
    """Returns `build_wheel(path, members) -> sha256`."""
    return build_wheel


def _numpy_bert(weights, config, token_ids, segment_ids, padding_mask):
    """Float64 NumPy forward pass of a Hugging Face BERT (exact GELU)."""
    import math

    import numpy as np

    erf = np.vectorize(math.erf)

    def w(key):
        return weights[key].astype("float64")

    def layer_norm(h, prefix, eps=1e-12):
        mean = h.mean(-1, keepdims=True)
        var = ((h - mean) ** 2).mean(-1, keepdims=True)
        return (h - mean) / np.sqrt(var + eps) * w(prefix + ".weight") + w(prefix + ".bias")

    length = token_ids.shape[1]
    h = (
        w("embeddings.word_embeddings.weight")[token_ids]
        + w("embeddings.position_embeddings.weight")[:length][None]
        + w("embeddings.token_type_embeddings.weight")[segment_ids]
    )
    h = layer_norm(h, "embeddings.LayerNorm")
    heads = config["num_attention_heads"]
    size = config["hidden_size"] // heads
    bias = (1.0 - padding_mask[:, None, None, :]) * -1e9
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def dense(x, name, p=p):
            return x @ w(p + name + ".weight").T + w(p + name + ".bias")

        def split(x):
            return x.reshape(x.shape[0], x.shape[1], heads, size)

        q = split(dense(h, "attention.self.query"))
        k = split(dense(h, "attention.self.key"))
        v = split(dense(h, "attention.self.value"))
        scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(size) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attended = np.einsum("bhqk,bkhd->bqhd", scores, v).reshape(h.shape)
        h = layer_norm(
            h + dense(attended, "attention.output.dense"),
            p + "attention.output.LayerNorm",
        )
        f = dense(h, "intermediate.dense")
        f = 0.5 * f * (1.0 + erf(f / math.sqrt(2.0)))
        h = layer_norm(h + dense(f, "output.dense"), p + "output.LayerNorm")
    return h


@pytest.fixture
def numpy_bert():
    """Returns `f(weights, config, token_ids, segment_ids, padding_mask)`."""
    return _numpy_bert
