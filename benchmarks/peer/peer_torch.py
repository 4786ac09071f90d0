"""One training method of the PyTorch side of the peer benchmark, in its own process.

Run by `run_peer.py` with the Python of a separate PyTorch environment (never
the one that has TensorFlow: the two must not share a process). It imports
only the standard library, NumPy, torch, transformers, peft and adapters,
plus the TensorFlow-free helpers `bench_configs.make_batch` (the same seeded
batch the Keras side gets) and `bench_measure.time_calls` (the same timing
protocol).

The model mirrors `keras_adapters.models.MeanPooledTextClassifier` on a
MiniLM-L6-shaped BERT: `transformers.BertModel` (no pooler, exact GELU,
dropout 0.1) with random weights from its config, masked mean pooling,
dropout 0.1 and a 2-class `Linear` head. Methods:

- `full`: every weight trainable;
- `lora`: peft `LoraConfig(r=8, lora_alpha=8, target_modules=["query", "value"],
  modules_to_save=["logits"])`;
- `pfeiffer`, `houlsby`, `prefix`: adapters `SeqBnConfig()`,
  `DoubleSeqBnConfig()`, `PrefixTuningConfig(prefix_length=10, flat=True)`
  via `adapters.init` and `train_adapter`; the head stays trainable.

A step is `zero_grad(set_to_none=True)`, forward, cross-entropy, backward,
`AdamW.step()`; the loss is read back as a Python float so the step has
finished when the clock stops.
"""

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import bench_configs  # noqa: E402 (TensorFlow-free)
import bench_measure  # noqa: E402 (TensorFlow-free)

METHODS = ("full", "lora", "pfeiffer", "houlsby", "prefix")


def _versions():
    import importlib.metadata

    names = ("torch", "transformers", "peft", "adapters")
    return {name: importlib.metadata.version(name) for name in names}


def build_model(method, shapes, seed):
    """The mean-pooled BERT classifier of `method`, with the right weights trainable."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=shapes["vocabulary_size"],
        hidden_size=shapes["hidden_dim"],
        num_hidden_layers=shapes["num_layers"],
        num_attention_heads=shapes["num_heads"],
        intermediate_size=shapes["intermediate_dim"],
        max_position_embeddings=shapes["max_sequence_length"],
        hidden_act="gelu",  # exact (erf) GELU, as ExactGeluBertBackbone
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )

    class MeanPooledBert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = transformers.BertModel(config, add_pooling_layer=False)
            self.dropout = torch.nn.Dropout(0.1)
            self.logits = torch.nn.Linear(config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.logits(self.dropout(pooled))

    model = MeanPooledBert()
    if method == "lora":
        import peft

        lora = peft.LoraConfig(
            r=bench_configs.LORA_RANK,
            lora_alpha=bench_configs.LORA_RANK,
            lora_dropout=0.0,
            target_modules=["query", "value"],
            modules_to_save=["logits"],
        )
        model = peft.get_peft_model(model, lora)
    elif method in ("pfeiffer", "houlsby", "prefix"):
        import adapters

        adapter_config = {
            "pfeiffer": lambda: adapters.SeqBnConfig(),
            "houlsby": lambda: adapters.DoubleSeqBnConfig(),
            "prefix": lambda: adapters.PrefixTuningConfig(
                prefix_length=bench_configs.PREFIX_TOKENS, flat=True
            ),
        }[method]()
        adapters.init(model.bert)
        model.bert.add_adapter(bench_configs.ADAPTER_NAME, config=adapter_config)
        model.bert.train_adapter(bench_configs.ADAPTER_NAME)  # freezes the rest of BERT
    return model, config


def measure(method, options):
    """Times `options["steps"]` training steps of `method`; returns a JSON-ready dict."""
    import time

    import torch

    torch.set_num_threads(options["threads"])
    start = time.perf_counter()
    model, config = build_model(method, options["shapes"], options["seed"])
    build_s = time.perf_counter() - start
    model.train()
    inputs, labels = bench_configs.make_batch(
        options["batch_size"],
        options["sequence_length"],
        options["shapes"]["vocabulary_size"],
        options["seed"],
    )
    batch = {
        "input_ids": torch.from_numpy(inputs["token_ids"]).long(),
        "attention_mask": torch.from_numpy(inputs["padding_mask"]).long(),
        "token_type_ids": torch.from_numpy(inputs["segment_ids"]).long(),
    }
    targets = torch.from_numpy(labels).long()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(**batch), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    timing = bench_measure.time_calls(step, options["steps"], options["warmup"])
    return {
        "library": "pytorch",
        "method": method,
        "build_s": build_s,
        "trainable_params": int(sum(p.numel() for p in trainable)),
        "total_params": int(sum(p.numel() for p in model.parameters())),
        "threads": torch.get_num_threads(),
        "attention": getattr(config, "_attn_implementation", None),
        "versions": _versions(),
        "peak_rss_mib": bench_measure.peak_rss_mib(),
        **timing,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--options", required=True, help="JSON of the run's options")
    parser.add_argument("--result-file", required=True)
    args = parser.parse_args(argv)
    result = measure(args.method, json.loads(args.options))
    pathlib.Path(args.result_file).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
