"""Library hygiene: what ``import aimc`` loads, that it leaves matplotlib's backend alone, and
that imports point down the package order of the README's Layout section."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import aimc

ROOT = Path(aimc.__file__).parent
HEAVY = ("numba", "scipy", "sklearn", "matplotlib")
PACKAGES = ("aimc.array", "aimc.calibration", "aimc.chips", "aimc.compiler", "aimc.cost", "aimc.data",
            "aimc.devices", "aimc.encoding", "aimc.evaluation", "aimc.models", "aimc.nn", "aimc.periphery",
            "aimc.stream", "aimc.tile", "aimc.training")


def _run(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (modules already imported here do not count)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=os.environ | env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_aimc_and_its_public_names_load_no_heavy_dependency():
    code = f"""
import importlib, sys
import aimc
for name in aimc.__all__:
    getattr(aimc, name)
for package in {PACKAGES!r}:
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        if name not in getattr(module, "_PULSE_UPDATE", ()) + getattr(module, "_PULSED", ()):
            getattr(module, name)
print(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""
    assert _run(code) == ""


def test_cli_help_does_not_import_torch():
    code = """
import sys
from typer.testing import CliRunner
from aimc.cli import app
result = CliRunner().invoke(app, ["--help"])
assert result.exit_code == 0 and "compile" in result.output, result.output
print(",".join(m for m in ("torch", "numba", "scipy", "sklearn", "matplotlib") if m in sys.modules))
"""
    assert _run(code) == ""


def test_lazy_names_are_the_modules_names():
    import aimc.array as array
    import aimc.array.pulse_update as pulse_update
    import aimc.training as training
    import aimc.training.pulsed as pulsed

    for name in array._PULSE_UPDATE:
        assert getattr(array, name) is getattr(pulse_update, name) and name in dir(array)
    for name in training._PULSED:
        assert getattr(training, name) is getattr(pulsed, name) and name in dir(training)
    for name in aimc.__all__:
        assert name in dir(aimc)
    assert aimc.devices.PCM.__name__ == "PCM" and aimc.__version__


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = aimc.nope
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = aimc.array.nope


def test_import_and_plot_keep_the_matplotlib_backend(tmp_path):
    code = f"""
import matplotlib
before = matplotlib.get_backend()
import aimc
from aimc.calibration import VerifyHistory
from aimc.evaluation import plot_program_verify
after_import = matplotlib.get_backend()
history = VerifyHistory(rms_error=[4e-6, 2e-6, 1e-6])
png = plot_program_verify(history, {str(tmp_path / "pv.png")!r})
import matplotlib.pyplot as plt
print(before, after_import, matplotlib.get_backend(), len(plt.get_fignums()), png.read_bytes()[:4])
"""
    before, after_import, after_plot, open_figures, magic = _run(code, MPLBACKEND="svg").split()
    assert before == after_import == after_plot == "svg"
    assert open_figures == "0" and "PNG" in magic


# The package order of the README's Layout section; imports point down it, never up.
ORDER = ["_lazy", "_jit", "_threads", "_allocator", "data", "devices", "periphery", "array", "encoding",
         "tile", "calibration", "chips", "nn", "models", "training", "compiler", "cost", "evaluation",
         "stream", "sweep", ("demo", "cli")]
RANK = {name: rank for rank, group in enumerate(ORDER)
        for name in ((group,) if isinstance(group, str) else group)}


def _aimc_imports(path: Path) -> set[str]:
    """The top-level aimc packages that ``path`` imports (module level, functions, TYPE_CHECKING)."""
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]  # ("aimc", "array")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                module = base + (node.module.split(".") if node.module else [])
                names = ([".".join(module)] if node.module
                         else [".".join([*module, a.name]) for a in node.names])
            else:
                names = [node.module or ""]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("aimc.")}
    return found


def _top(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").parts[0]


def test_every_module_has_a_rank():
    tops = {_top(p) for p in ROOT.rglob("*.py") if p != ROOT / "__init__.py"}
    assert tops <= set(RANK), f"add {sorted(tops - set(RANK))} to ORDER and to the README's Layout"


def test_imports_point_down_the_package_order():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "__init__.py":  # the package root re-exports from everything
            continue
        here = _top(path)
        for target in _aimc_imports(path):
            if target in RANK and RANK[target] > RANK[here]:
                upward.append(f"{path.relative_to(ROOT.parent)} imports aimc.{target}")
    assert not upward, "imports pointing up the package order:\n" + "\n".join(upward)


def test_the_layering_check_sees_an_upward_import(tmp_path):
    fake = tmp_path / "aimc" / "devices" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..nn import convert\n\ndef f():\n    from aimc.cost import estimate\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path / "aimc"
    try:
        assert _aimc_imports(fake) == {"nn", "cost"}
    finally:
        ROOT = saved
