"""``aimc._allocator.keep_freed_memory``: glibc keeps freed blocks for reuse in aimc's own
processes (speed only). Checked through glibc's own counters (``mallinfo2``): after the call a
freed 8 MiB block stays in the heap (no ``mmap``), and the numbers of a read are unchanged."""

import ctypes
import ctypes.util
import subprocess
import sys

import pytest

CHILD = r"""
import ctypes, ctypes.util, sys
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
if sys.argv[1] == "keep":
    from aimc._allocator import keep_freed_memory
    assert keep_freed_memory()
libc.malloc.restype = ctypes.c_void_p
p = libc.malloc(8 * 2**20)
mapped = libc.mallinfo2().hblkhd  # bytes in mmap-ed blocks
libc.free(ctypes.c_void_p(p))
print(mapped >= 8 * 2**20)
"""


def _glibc() -> bool:
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2  # noqa: B018
        return True
    except (OSError, AttributeError):
        return False


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt/mallinfo2 only")
def test_a_large_block_comes_from_the_heap_once_freed_memory_is_kept():
    def mapped(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert mapped("default") == "True"  # glibc's default: an 8 MiB block is mmap-ed
    assert mapped("keep") == "False"  # kept: it comes from the heap and stays there when freed


READ = r"""
import hashlib, sys, torch
from torch import nn
import aimc
if sys.argv[1] == "keep":
    from aimc._allocator import keep_freed_memory
    assert keep_freed_memory()
torch.manual_seed(0)
analog, _ = aimc.convert(nn.Linear(512, 512), aimc.load_chip("ibm-hermes-pcm"))
aimc.program(analog, seed=1)
aimc.drift(analog, 86400.0)
with torch.inference_mode():
    outs = [analog(torch.randn(1024, 512)) for _ in range(3)]  # 2 MiB tensors, fresh noise
print(hashlib.sha256(b"".join(o.numpy().tobytes() for o in outs)).hexdigest())
"""


def test_keeping_freed_memory_leaves_the_numbers_unchanged():
    """Reads of multi-MiB tensors (above glibc's default mmap threshold of 128 KiB) give the
    same bytes with and without it, each in a fresh process."""
    def digest(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", READ, mode], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert digest("keep") == digest("default")


def test_every_cli_command_keeps_freed_memory(monkeypatch):
    from typer.testing import CliRunner

    from aimc import _allocator, cli

    calls = []
    monkeypatch.setattr(_allocator, "keep_freed_memory", lambda: calls.append(1) or True)
    result = CliRunner().invoke(cli.app, ["chips", "list"])
    assert result.exit_code == 0, result.output
    assert calls == [1]
