"""load_chip: presets by name, files by path, and what a mistyped name or path gets told."""

import os
from pathlib import Path

import pytest

from aimc.chips import list_chips, load_chip


@pytest.mark.parametrize("arg", ["mychip.yaml", "configs/chip.yml", "./CHIP.YAML",
                                 Path("relative/chip")], ids=str)
def test_missing_file_says_file_not_found_with_the_path(tmp_path, monkeypatch, arg):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="chip file not found: ") as err:
        load_chip(arg)
    message = str(err.value)
    assert str(Path(arg)) in message and "not a preset and not a YAML file" not in message


def test_missing_file_in_a_missing_folder_says_so(tmp_path):
    path = tmp_path / "nowhere" / "chip.yaml"
    with pytest.raises(ValueError, match=rf"chip file not found: {path} \(folder .*nowhere does not exist"):
        load_chip(str(path))


def test_preset_name_written_as_a_file_hints_at_the_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="preset is named 'neurram'"):
        load_chip("neurram.yaml")


def test_unknown_name_lists_the_presets():
    with pytest.raises(ValueError, match="unknown chip 'nope': not a preset") as err:
        load_chip("nope")
    assert all(name in str(err.value) for name in list_chips())


def test_folder_is_not_a_chip_file(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a YAML file"):
        load_chip(tmp_path)


def test_existing_file_still_loads(tmp_path):
    path = tmp_path / "copy.yaml"
    path.write_text("name: copy\narray: {rows: 128, cols: 128}\n")
    assert load_chip(path).array.rows == 128
    assert load_chip(os.fspath(path)).name == "copy"
