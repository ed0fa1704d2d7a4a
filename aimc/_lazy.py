"""Lazy re-exports for package ``__init__`` files (PEP 562 module ``__getattr__``).

A package re-exports names from a submodule that pulls in a heavy dependency (numba compiles
kernels; torch, scipy, matplotlib take seconds to import) without importing it: the submodule
is imported on first access of one of its names, so ``import aimc`` and ``aimc --help`` stay
fast while ``aimc.convert`` or ``from aimc.array import PulseUpdate`` keep working. Use in a
package ``__init__``::

    __getattr__, __dir__ = lazy_exports(__name__, {"PulseUpdate": ".pulse_update"}, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable


def lazy_exports(
    package: str, names: dict[str, str], namespace: dict, submodules: Iterable[str] = ()
) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names[attr]`` is the submodule
    (relative, e.g. ``".pulse_update"``) that defines ``attr``, imported on first access;
    each name in ``submodules`` is a subpackage or module returned itself (``aimc.devices``).
    Values are cached in the package's ``namespace``, so each import happens once."""
    submodules = frozenset(submodules)

    def __getattr__(attr: str):
        if attr in submodules:
            value = importlib.import_module(f".{attr}", package)
        elif attr in names:
            value = getattr(importlib.import_module(names[attr], package), attr)
        else:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        namespace[attr] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | submodules)

    return __getattr__, __dir__
