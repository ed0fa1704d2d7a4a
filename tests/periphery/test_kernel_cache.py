"""The compiled kernels (numba, ``cache=True``) work from a read-only install.

numba caches compiled code in the package's ``__pycache__`` when it can write there, else in the
user's cache folder (``~/.cache/numba``, or ``NUMBA_CACHE_DIR``). A read-only or shared install
used by an account without a writable home (a service account, a read-only container) has
neither; numba then refuses to compile at import unless aimc falls back to compiling in memory.
The test copies the package to a read-only folder and calls kernels of both compiled modules as
the unprivileged user ``nobody`` with no writable home (root ignores permission bits, so the
test drops root with ``setpriv``; as another user it runs as that user).
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import aimc

CODE = {
    "periphery": """
import numpy as np
from aimc.periphery import kernels
x = np.array([[0.5, -1.0, 0.25]], dtype=np.float32)
levels, step = np.empty_like(x), np.empty(1, dtype=np.float32)
assert kernels.dac_rows(x, x.view(np.int32), 127.0, 0.0, True, levels, step)
assert levels.tolist() == [[64.0, -127.0, 32.0]], levels
""",
    "array": """
from aimc.array import pulse_kernels
assert pulse_kernels.device_hashes(4).shape == (4,)
""",
}


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) | stat.S_IROTH
                   | (stat.S_IXOTH if path.is_dir() else 0))


@pytest.mark.parametrize("package", ["periphery", "array"])
def test_kernels_compile_from_a_read_only_install_without_a_writable_cache(package):
    kernels = {"periphery": "periphery/kernels.py", "array": "array/pulse_kernels.py"}[package]
    assert "from .._jit import njit" in (Path(aimc.__file__).parent / kernels).read_text(), \
        f"aimc/{kernels} decorates with numba.njit: use `from .._jit import njit`"
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only for root")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]  # nobody
    else:
        drop = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(Path(aimc.__file__).parent, root / "aimc",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _read_only(root)
        root.chmod(0o555)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_", "PYTHON"))}
        env |= {"PYTHONPATH": str(root), "HOME": str(root / "home-that-does-not-exist"),
                "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            code = CODE[package] + "import aimc\nprint('ok', aimc.__file__)\n"
            result = subprocess.run([*drop, sys.executable, "-c", code], capture_output=True, text=True,
                                    env=env, cwd=root, timeout=600)
            written = sorted(str(p.relative_to(root)) for p in root.rglob("__pycache__"))
        finally:
            for path in [root, *root.rglob("*")]:
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok") and str(root) in result.stdout
    assert "no writable folder for numba's cache" in result.stderr  # the one-time warning
    assert written == []  # nothing was written into the install
