"""`keras-adapters train --data BAD_FILE`: exit status 2, one line naming the file and the problem."""

import re

import pytest

from keras_adapters.cli.main import main
from tests.support.bad_data_files import BAD_FILES


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_data_file_exits_2_with_one_line(case, tmp_path, tiny_preset, capsys):
    name, content, pattern = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    code = main(
        ["train", "--data", str(path), "--output-dir", str(tmp_path / "run"), "--verbose", "0"]
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-adapters train: error: "), err
    assert re.search(pattern, lines[0]) and str(path) in lines[0], err
    assert not (tmp_path / "run").exists()
