"""Named chip presets (YAML files in ``presets/``) and loading of a user's own YAML."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml

from .spec import ChipSpec

DEFAULT_CHIP = "ibm-hermes-pcm"


def _preset_dir():
    return resources.files(__package__) / "presets"


def list_chips() -> list[str]:
    """Names of the built-in presets."""
    return sorted(p.name.removesuffix(".yaml") for p in _preset_dir().iterdir() if p.name.endswith(".yaml"))


def _looks_like_path(text: str) -> bool:
    return text.lower().endswith((".yaml", ".yml")) or "/" in text or os.sep in text


def _not_found(name_or_path: str | Path, path: Path) -> str:
    """Why ``name_or_path`` names no chip: a missing file, a folder, or an unknown preset."""
    presets = ", ".join(list_chips())
    if path.is_dir():
        return f"chip file {path} is a folder, not a YAML file"
    if isinstance(name_or_path, Path) or _looks_like_path(str(name_or_path)):
        where = path.parent if str(path.parent) not in ("", ".") else Path.cwd()
        hint = "" if where.is_dir() else f" (folder {where} does not exist either)"
        if path.stem in list_chips():
            hint += f" (the preset is named {path.stem!r}, without a folder or .yaml)"
        return f"chip file not found: {path}{hint}; a preset is named without a path ({presets})"
    return f"unknown chip {str(name_or_path)!r}: not a preset ({presets}) and no file of that name"


def load_chip(name_or_path: str | Path = DEFAULT_CHIP) -> ChipSpec:
    """A preset by name (see :func:`list_chips`) or a YAML file by path, validated.

    Example:
        >>> load_chip("ibm-hermes-pcm").array.rows
        256
    """
    base = None
    if str(name_or_path) in list_chips():
        text = (_preset_dir() / f"{name_or_path}.yaml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(_not_found(name_or_path, path))
        text = path.read_text()
        base = path.parent
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"chip file {name_or_path!s} must hold a mapping of fields")
    device = data.get("device")
    if base is not None and isinstance(device, dict) and isinstance(device.get("csv"), str):
        csv = Path(device["csv"])  # a measured device's CSV is found next to its YAML
        data["device"] = {**device, "csv": str(csv if csv.is_absolute() else base / csv)}
    return ChipSpec.model_validate(data)
