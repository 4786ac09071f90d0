"""`keras-adapters predict/export RUN_DIR` on run directories from elsewhere: exit 2, one line."""

import json
import os
import re
import shutil

import numpy as np
import pytest
import safetensors.numpy

import keras_adapters
from keras_adapters.cli import run_files
from keras_adapters.cli.main import main
from keras_adapters.saving.adapter_file import WEIGHTS_FILE
from tests.cli.conftest import tiny_classifier


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    run.mkdir()
    model = tiny_classifier("minilm_l6", 8, 2)
    keras_adapters.add_adapter(
        model,
        keras_adapters.LoraConfig(rank=2, modules_to_save=["logits"]),
        run_files.ADAPTER_NAME,
        verbose=False,
    )
    keras_adapters.save_adapter(model, run / run_files.ADAPTER_DIR)
    run_files.write_run_config(
        run,
        backbone_preset="minilm_l6",
        sequence_length=8,
        label_names=["neg", "pos"],
        method="lora",
        adapter_name=run_files.ADAPTER_NAME,
        adapter_config=None,
        data_source="reviews.csv",
        seed=1,
        split_seed=1,
    )
    return run


@pytest.fixture
def run(good_run, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(good_run, path)
    return path


def _edit(key, value):
    def edit(run):
        path = run / run_files.RUN_CONFIG
        config = json.loads(path.read_text())
        config[key] = value
        path.write_text(json.dumps(config))

    return edit


def _drop(key):
    def edit(run):
        path = run / run_files.RUN_CONFIG
        config = json.loads(path.read_text())
        del config[key]
        path.write_text(json.dumps(config))

    return edit


def _write(name, content):
    return lambda run: (run / name).write_bytes(content)


def _symlink(name):
    def edit(run):
        elsewhere = run.parent / f"elsewhere-{name}"
        os.replace(run / name, elsewhere)
        os.symlink(elsewhere, run / name)

    return edit


def _nan_weight(run):
    path = run / run_files.ADAPTER_DIR / WEIGHTS_FILE
    tensors = safetensors.numpy.load_file(str(path))
    key = sorted(k for k in tensors if k.endswith("lora_b"))[0]
    tensors[key] = np.full_like(tensors[key], np.nan)
    safetensors.numpy.save_file(tensors, str(path))


def _full_run(weights):
    def edit(run):
        _edit("method", "full")(run)
        shutil.rmtree(run / run_files.ADAPTER_DIR)
        (run / run_files.FULL_WEIGHTS).write_bytes(weights)

    return edit


RUN_CONFIG = run_files.RUN_CONFIG
# case -> (edit of the run directory, file named in the message, regex of the message)
CASES = {
    "config_not_json": (_write(RUN_CONFIG, b"{oops"), RUN_CONFIG, r"is not valid JSON"),
    "config_binary": (_write(RUN_CONFIG, bytes(range(256))), RUN_CONFIG, r"is not UTF-8 text"),
    "config_a_list": (_write(RUN_CONFIG, b"[]"), RUN_CONFIG, r"must hold a JSON object"),
    "config_unknown_key": (_edit("evil", 1), RUN_CONFIG, r"unknown keys \['evil'\]"),
    "config_missing_key": (_drop("label_names"), RUN_CONFIG, r"missing keys \['label_names'\]"),
    "format_version": (_edit("format_version", "1"), RUN_CONFIG, r"unknown format_version: '1'"),
    "preset_path_traversal": (
        _edit("backbone_preset", "../../etc/passwd"),
        RUN_CONFIG,
        r"unknown backbone preset .*Received: backbone_preset='\.\./\.\./etc/passwd'",
    ),
    "preset_absolute_path": (
        _edit("backbone_preset", "/etc/passwd"),
        RUN_CONFIG,
        r"unknown backbone preset",
    ),
    "preset_not_a_string": (
        _edit("backbone_preset", {"path": "/etc"}),
        RUN_CONFIG,
        r"invalid `backbone_preset`",
    ),
    "sequence_length_string": (
        _edit("sequence_length", "8"),
        RUN_CONFIG,
        r"invalid `sequence_length` \(an integer from 1 to 65,536\). Received: sequence_length='8'",
    ),
    "sequence_length_huge": (_edit("sequence_length", 10**9), RUN_CONFIG, r"sequence_length"),
    "sequence_length_bool": (_edit("sequence_length", True), RUN_CONFIG, r"=True"),
    "label_names_empty": (_edit("label_names", []), RUN_CONFIG, r"invalid `label_names`"),
    "label_names_repeated": (_edit("label_names", ["a", "a"]), RUN_CONFIG, r"`label_names`"),
    "label_names_numbers": (_edit("label_names", [0, 1]), RUN_CONFIG, r"`label_names`"),
    "method_unknown": (_edit("method", "evil"), RUN_CONFIG, r"invalid `method`"),
    "task_unknown": (_edit("task", "evil"), RUN_CONFIG, r"invalid `task`"),
    "config_symlink": (_symlink(RUN_CONFIG), RUN_CONFIG, r"is a symbolic link"),
    "adapter_dir_symlink": (
        _symlink(run_files.ADAPTER_DIR),
        run_files.ADAPTER_DIR,
        r"is a symbolic link",
    ),
    "adapter_weights_nan": (_nan_weight, run_files.ADAPTER_DIR, r"NaN or infinite values"),
    "head_does_not_fit": (
        _edit("label_names", ["a", "b", "c"]),
        run_files.ADAPTER_DIR,
        r"does not fit this model: shape of modules_to_save/.*file \(8, 2\), model \(8, 3\)",
    ),
    "full_weights_garbage": (
        _full_run(b"not an h5 file"),
        run_files.FULL_WEIGHTS,
        r"Cannot load the weights",
    ),
}


# export reads the run as predict does; the run_config cases show it checks first.
COMMANDS = [(case, "predict") for case in CASES] + [
    (case, "export") for case, (_, named, _) in CASES.items() if named == RUN_CONFIG
]


@pytest.mark.parametrize("case, command", COMMANDS)
def test_hostile_run_dir_exits_2_with_one_line(case, command, run, tiny_preset, capsys, tmp_path):
    edit, named, pattern = CASES[case]
    edit(run)
    output = tmp_path / "served"
    argv = ["predict", str(run), "a great film"]
    if command == "export":
        argv = ["export", str(run), "--output", str(output)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"keras-adapters {command}: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert str(run / named) in lines[0]
    assert not output.exists()


def test_good_run_predicts_and_data_source_is_never_opened(run, tiny_preset, capsys):
    _edit("data_source", "../../../../etc/shadow")(run)
    assert main(["predict", "--json", str(run), "a great film"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] in ("neg", "pos")


def test_missing_adapter_directory(run, tiny_preset, capsys):
    shutil.rmtree(run / run_files.ADAPTER_DIR)
    assert main(["predict", str(run), "a great film"]) == 2
    assert "No such directory" in capsys.readouterr().err


def test_write_run_config_refuses_keys_that_read_run_config_would_refuse(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown run config keys \['new_key'\]"):
        run_files.write_run_config(tmp_path, new_key=1)
