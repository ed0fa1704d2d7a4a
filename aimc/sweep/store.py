"""The results store: one SQLite file, one row per cell × time × compensation setting.

Why SQLite: a single file a user can copy, open from any language, query with SQL; it is in
Python's standard library (no extra dependency, unlike DuckDB or Parquet writers); its
transactions are atomic and durable, so a cell's rows are written in one transaction and a
process killed mid-write (even by SIGKILL) leaves either all of a cell's rows or none. In WAL
mode (write-ahead log) readers never block the writer and several processes can write to the
same file: each takes the write lock for the few milliseconds of one cell's transaction, and
waits for it (``busy_timeout``) rather than failing. ``UNIQUE (sweep, cell_key, time_s,
compensate)`` makes a duplicate row impossible; a cell already stored (by a finished run, or by a
concurrent sweep that got there first) is skipped, never written twice. DuckDB was not chosen:
it allows one writing process per file; Parquet parts plus a manifest would need our own
locking and compaction.

Schema (table ``results``; ``sweeps`` keeps each grid that wrote to the store):

- identity: ``sweep`` (grid name), ``cell_key`` (hash of the canonical cell), ``time_s``,
  ``compensate`` (0/1);
- the cell: ``chip``, ``model``, ``params`` (JSON of the dotted overrides), ``seed``,
  ``repeats``, ``chip_spec`` (JSON of the full ChipSpec the cell ran), ``code_version``
  (of the worker that ran the cell: ``aimc.__version__`` and ``git describe`` where available,
  see :func:`code_version`);
- the numbers: ``accuracy_mean``, ``accuracy_std``, ``n``, ``ci_low``, ``ci_high`` (95 %),
  ``accuracies`` (JSON, one per chip instance), ``digital_accuracy``, ``energy_j`` with
  ``energy_low_j``/``energy_high_j`` (90 % interval of the cost model), ``latency_s`` and
  ``tops_per_w`` (same),
  ``energy_breakdown`` (JSON, J by component);
- bookkeeping: ``wall_s`` (cell run time), ``worker`` (host:pid), ``written_at`` (UTC).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from .. import __version__
from .grid import Cell, Grid

COLUMNS = [
    ("sweep", "TEXT NOT NULL"), ("cell_key", "TEXT NOT NULL"), ("time_s", "REAL NOT NULL"),
    ("compensate", "INTEGER NOT NULL"), ("chip", "TEXT NOT NULL"), ("model", "TEXT NOT NULL"),
    ("params", "TEXT NOT NULL"), ("seed", "INTEGER NOT NULL"), ("repeats", "INTEGER NOT NULL"),
    ("accuracy_mean", "REAL"), ("accuracy_std", "REAL"), ("n", "INTEGER"), ("ci_low", "REAL"),
    ("ci_high", "REAL"), ("accuracies", "TEXT"), ("digital_accuracy", "REAL"),
    ("energy_j", "REAL"), ("energy_low_j", "REAL"), ("energy_high_j", "REAL"),
    ("latency_s", "REAL"), ("latency_low_s", "REAL"), ("latency_high_s", "REAL"),
    ("tops_per_w", "REAL"), ("tops_per_w_low", "REAL"), ("tops_per_w_high", "REAL"),
    ("energy_breakdown", "TEXT"), ("chip_spec", "TEXT NOT NULL"), ("code_version", "TEXT NOT NULL"),
    ("wall_s", "REAL"), ("worker", "TEXT"), ("written_at", "TEXT NOT NULL"),
]
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    {", ".join(f"{name} {kind}" for name, kind in COLUMNS)},
    UNIQUE (sweep, cell_key, time_s, compensate)
);
CREATE INDEX IF NOT EXISTS results_cell ON results (sweep, cell_key);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep TEXT NOT NULL, grid_hash TEXT NOT NULL, grid TEXT NOT NULL, first_run_at TEXT NOT NULL,
    PRIMARY KEY (sweep, grid_hash)
);
"""
# testing hook (tests/sweep/test_sweep_store.py): pause inside a cell's write transaction, after
# its first row, with a marker file present (removed before COMMIT, so while it exists the cell is
# not committed), so a test can SIGKILL the writer mid-write for sure
PAUSE_ENV = "AIMC_SWEEP_WRITE_PAUSE_S"


@cache
def code_version() -> str:
    """``aimc <version>``, plus ``git describe --always --dirty`` when the aimc package folder
    sits at the top level of a git checkout (its parent holds ``.git`` and is the repository's
    root) and git is installed; an installed copy (site-packages inside some other repository,
    say) gives the package version only. The runner calls it in the worker that ran a cell, and
    the store keeps that worker's version."""
    root = Path(__file__).resolve().parents[2]  # the folder holding the aimc package
    described = ""
    if (root / ".git").exists():
        try:
            top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True,
                                 text=True, timeout=10)
            if top.returncode == 0 and Path(top.stdout.strip()).resolve() == root:
                out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                                     capture_output=True, text=True, timeout=10)
                described = out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            described = ""
    return f"aimc {__version__}" + (f" ({described})" if described else "")


class Store:
    """A results store (SQLite file, created when missing).

    Example:
        >>> store = Store("results.db")                    # doctest: +SKIP
        >>> store.rows(sweep="adc-vs-array")[0]["accuracy_mean"]  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, timeout_s: float = 60.0, read_only: bool = False) -> None:
        """``read_only``: open an existing store for reading only (SQLite ``mode=ro``: no schema
        created, no switch to WAL, nothing written), as ``aimc report`` does."""
        self.path = Path(path)
        self.read_only = read_only
        if self.path.is_dir():
            raise ValueError(f"store {self.path} is a folder, not a file")
        if not self.path.parent.is_dir():
            raise ValueError(f"store {self.path}: folder {self.path.parent} does not exist")
        if read_only and not self.path.is_file():
            raise ValueError(f"store not found: {self.path}")
        self.timeout_s = timeout_s
        with closing(self._connect()) as con:
            if not read_only:
                self._retry(lambda: con.executescript(SCHEMA))
            have = {r[1] for r in con.execute("PRAGMA table_info(results)")}
        if not have:
            raise ValueError(f"{self.path} is an SQLite file without a results table, not an aimc "
                             f"results store")
        missing = [name for name, _ in COLUMNS if name not in have]
        if missing:
            raise ValueError(f"store {self.path} was written by another version of aimc: its results "
                             f"table lacks {', '.join(missing)}; use a new store file")

    def _retry(self, step):
        """Run ``step()``, retrying "database is locked" with short sleeps until ``timeout_s``:
        switching a new file to WAL (and creating the schema in it) takes an exclusive lock that
        ``busy_timeout`` does not wait for, so several processes opening a new store at once
        would otherwise fail at once."""
        deadline = time.monotonic() + self.timeout_s
        delay = 0.005
        while True:
            try:
                return step()
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 0.1)

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            con = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
            con.row_factory = sqlite3.Row
            return con
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            # readers and a writer at once; several writers queue
            self._retry(lambda: con.execute("PRAGMA journal_mode = WAL").fetchone())
            con.execute("PRAGMA synchronous = FULL")  # a committed cell survives power loss too
        except BaseException:
            con.close()
            raise
        con.row_factory = sqlite3.Row
        return con

    def register(self, grid: Grid) -> None:
        """Record the grid of a sweep (once per distinct grid)."""
        import hashlib

        text = grid.canonical()
        digest = hashlib.sha256(text.encode()).hexdigest()[:20]
        with closing(self._connect()) as con:
            con.execute("INSERT OR IGNORE INTO sweeps VALUES (?, ?, ?, ?)",
                        (grid.name, digest, text, _now()))

    def done(self, sweep: str) -> set[str]:
        """Keys of the cells of ``sweep`` whose rows are stored (a cell is all or nothing)."""
        with closing(self._connect()) as con:
            return {r[0] for r in con.execute("SELECT DISTINCT cell_key FROM results WHERE sweep = ?",
                                              (sweep,))}

    def write_cell(self, sweep: str, cell: Cell, rows: list[dict]) -> bool:
        """Write one cell's rows in one transaction; ``False`` (nothing written) when the cell is
        stored already (e.g. by a concurrent sweep that finished it first). A row's own
        ``code_version`` (the worker's, set by the runner) wins over this process's."""
        common = {"sweep": sweep, "cell_key": cell.key, "chip": cell.chip, "model": cell.model,
                  "params": json.dumps(cell.params, sort_keys=True), "seed": cell.seed,
                  "repeats": cell.repeats, "chip_spec": json.dumps(cell.chip_spec, sort_keys=True),
                  "code_version": code_version(), "written_at": _now()}
        names = [name for name, _ in COLUMNS]
        sql = f"INSERT INTO results ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
        marker = self.path.with_name(self.path.name + ".writing")
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # the write lock now: the check below cannot go stale
            if con.execute("SELECT 1 FROM results WHERE sweep = ? AND cell_key = ? LIMIT 1",
                           (sweep, cell.key)).fetchone():
                con.execute("ROLLBACK")
                return False
            for i, row in enumerate(rows):
                record = common | row
                con.execute(sql, [record.get(name) for name in names])
                if pause and i == 0:
                    marker.write_text(cell.key)
                    time.sleep(pause)
            if pause:  # gone before COMMIT: while the marker exists, the cell is not committed
                marker.unlink(missing_ok=True)
            con.execute("COMMIT")
            return True
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def rows(self, sweep: str | None = None) -> list[dict]:
        """Every stored row (of one sweep, or all), as dicts, in insertion order."""
        with closing(self._connect()) as con:
            query = "SELECT * FROM results" + (" WHERE sweep = ?" if sweep else "") + " ORDER BY id"
            return [dict(r) for r in con.execute(query, (sweep,) if sweep else ())]

    def sweeps(self) -> list[str]:
        with closing(self._connect()) as con:
            return [r[0] for r in con.execute("SELECT DISTINCT sweep FROM results ORDER BY sweep")]

    def grids(self, sweep: str) -> list[dict]:
        with closing(self._connect()) as con:
            found = con.execute("SELECT grid FROM sweeps WHERE sweep = ?", (sweep,))
            return [json.loads(r[0]) for r in found]

    def integrity(self) -> str:
        """``PRAGMA integrity_check`` ('ok' for a sound file)."""
        with closing(self._connect()) as con:
            return con.execute("PRAGMA integrity_check").fetchone()[0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
