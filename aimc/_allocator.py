"""The C allocator of a process that aimc runs (its command line, its sweep workers).

A read allocates tensors of megabytes (levels, currents, variances, codes). glibc's ``malloc``
serves blocks above its dynamic threshold with ``mmap`` and gives them back to the kernel when
freed, so every read faults the same pages in again; two processes doing that side by side also
slow each other down in the kernel. :func:`keep_freed_memory` tells glibc to keep such blocks
for reuse instead. It changes speed, never a number: a sweep of 16 cells of the demo CNN ran
33.1 s against 35.4 s in one process, 1.07x (``benchmarks/bench_allocator.py``, means of 3
alternating runs each). The price is memory: a
process keeps up to 1 GiB of freed heap (per allocator arena) instead of returning it, so a
sweep with many worker processes holds more resident memory. A library should not change its
host's allocator, so only aimc's own processes call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 * 2**20  # blocks up to 32 MiB come from the heap (glibc's largest threshold)
TRIM_THRESHOLD = 2**30  # free heap memory is returned to the kernel only beyond 1 GiB


@cache
def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep freed blocks of up to 32 MiB for reuse in this process (see
    the module docstring), once per process; True when it took effect, False where the C library
    is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        try:
            mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
        except (OSError, AttributeError):
            return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
