"""numba's ``njit`` for aimc's compiled kernels, safe for read-only and shared installs.

With ``cache=True`` numba stores compiled code beside the source (``__pycache__`` of the
installed package) when that folder is writable, else in ``NUMBA_CACHE_DIR`` or the user's cache
folder (``~/.cache/numba``). When none is writable (a read-only install used by an account
without a writable home: a service account, a read-only container image), numba raises
``RuntimeError: cannot cache function ...: no locator available`` at import. This ``njit``
compiles such kernels without the disk cache instead (in memory, once per process: a few
seconds at first use) and warns once, naming ``NUMBA_CACHE_DIR`` as the remedy. Anything else is
numba's own ``njit``. Kernel modules use it as a drop-in: ``from .._jit import njit``.
"""

from __future__ import annotations

import warnings

import numba

_warned = False


def _uncached(options: dict, function, err: RuntimeError):
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"aimc: no writable folder for numba's cache ({err}); compiled kernels are compiled "
                      f"in each process. Set NUMBA_CACHE_DIR to a writable folder to keep them.",
                      RuntimeWarning, stacklevel=3)
    return numba.njit(**(options | {"cache": False}))(function)


def njit(function=None, **options):
    """``numba.njit(**options)``; with ``cache=True``, falls back to no disk cache when numba
    finds no writable cache folder."""
    if not options.get("cache"):
        return numba.njit(**options) if function is None else numba.njit(**options)(function)

    def decorate(f):
        try:
            return numba.njit(**options)(f)
        except RuntimeError as err:
            if "no locator available" not in str(err):
                raise
            return _uncached(options, f, err)

    return decorate if function is None else decorate(function)
