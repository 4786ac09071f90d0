"""`keras-adapters train --method ...`: every method's flags become its config."""

import pytest

import keras_adapters
from keras_adapters.cli.main import build_parser
from keras_adapters.cli.method_configs import METHODS, method_config, with_schedule


def _config(*flags):
    return method_config(build_parser().parse_args(["train", *flags]))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "full"])
def test_every_method_builds_its_config_with_the_head_saved(method):
    config = _config("--method", method)
    assert config.method == method and config.modules_to_save == ("logits",)


def test_flags_reach_the_config():
    lora = _config("--method", "dora", "--rank", "4", "--alpha", "8", "--targets", "query,value")
    assert isinstance(lora, keras_adapters.DoraConfig)
    assert (lora.rank, lora.alpha, lora.targets) == (4, 8.0, ("query", "value"))
    assert _config("--method", "lora").targets == "all-linear"
    ia3 = _config("--method", "ia3")
    assert ia3.targets == ("key", "value", "ffn_output") and ia3.feedforward == ("ffn_output",)
    assert _config("--method", "ia3", "--targets", "key,value").feedforward == ()
    mam = _config("--method", "mam", "--prefix-tokens", "7", "--bottleneck-dim", "16")
    assert (mam.num_prefix_tokens, mam.bottleneck_dim, mam.scaling) == (7, 16, 4.0)
    assert _config("--method", "full") is None
    prompt = _config("--method", "prompt", "--prompt-length", "5", "--prompt-init-text", "Rate:")
    assert (prompt.num_virtual_tokens, prompt.init_text) == (5, "Rate:")
    assert _config("--method", "prompt").num_virtual_tokens == 20
    adalora = _config("--method", "adalora", "--init-rank", "6", "--target-rank", "3")
    assert (adalora.init_rank, adalora.target_rank) == (6, 3)
    scheduled = with_schedule(adalora, 200)
    assert (scheduled.total_steps, scheduled.warmup_steps, scheduled.final_steps) == (200, 20, 40)
    assert with_schedule(mam, 200) is mam
