"""A temporary git worktree of an earlier commit, for benchmarks that time this checkout against it
(``profile_read.py``, ``bench_instances.py``, ``bench_layer_overhead.py``; run as scripts, so
this folder is on ``sys.path``)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """The source tree of ``commit`` checked out beside this repository's (``git worktree``),
    removed again on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
                       check=True, capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
