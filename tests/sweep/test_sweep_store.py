"""The results store: a cell is written all or nothing, a killed sweep resumes without
recomputing or duplicating, and two sweeps writing to one store at once do not corrupt it."""

import signal
import sqlite3
import time

import pytest
import yaml
from sweep_helpers import TINY, aimc_cli, tiny_grid

from aimc.sweep import Store, run_sweep
from aimc.sweep.store import PAUSE_ENV

CELLS, TIMES = 4, 2  # the tiny grid: 2 chips x 2 ADC resolutions, 2 times, 1 compensation setting


def _stored(db) -> dict[str, int]:
    """Rows per cell key, read with a connection of its own (what a new process would see)."""
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT cell_key, COUNT(*) FROM results GROUP BY cell_key").fetchall())
    except sqlite3.OperationalError:  # the table is not created yet
        return {}
    finally:
        con.close()


def _write_grid(path, **changes):
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


def test_a_failing_write_leaves_nothing(tmp_path, model_cache):
    store = Store(tmp_path / "s.db")
    cell = tiny_grid().cells()[0]
    good = {"time_s": 1.0, "compensate": True}
    with pytest.raises(sqlite3.IntegrityError):
        store.write_cell("tiny", cell, [good, {"compensate": True}])  # second row lacks its time
    assert store.rows() == []
    assert store.write_cell("tiny", cell, [good]) is True
    assert store.write_cell("tiny", cell, [good]) is False  # stored already: skipped, not doubled
    assert len(store.rows()) == 1 and store.integrity() == "ok"


def test_sigkill_mid_write_then_resume(tmp_path, model_cache):
    grid = _write_grid(tmp_path / "grid.yaml", params={"adc.bits": [2, 4, 6, 8]})  # 8 cells
    db = tmp_path / "results.db"
    marker = tmp_path / "results.db.writing"
    # each cell's write transaction pauses after its first row with a marker file present
    child = aimc_cli("sweep", str(grid), "--store", str(db), "--cache-dir", str(model_cache),
                     env={PAUSE_ENV: "3"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if len(_stored(db)) >= 2 and marker.exists():
            break
        time.sleep(0.05)
    assert child.poll() is None, child.stdout.read()
    child.send_signal(signal.SIGKILL)  # inside a cell's transaction: one row of it is written
    child.wait()
    partial = marker.read_text()
    before = _stored(db)
    assert 2 <= len(before) < 8 and partial not in before  # the half-written cell left no row
    assert set(before.values()) == {TIMES}
    first_rows = {(r["cell_key"], r["time_s"]): (r["id"], r["written_at"]) for r in Store(db).rows()}

    summary = run_sweep(grid, db, cache_dir=model_cache, progress=False)
    assert set(summary.skipped) == set(before)  # every finished cell skipped ...
    assert not set(summary.computed) & set(before)  # ... none recomputed
    assert len(summary.computed) == 8 - len(before) and partial in summary.computed
    rows = Store(db).rows()
    assert len(rows) == 8 * TIMES == len({(r["cell_key"], r["time_s"], r["compensate"]) for r in rows})
    kept = {(r["cell_key"], r["time_s"]): (r["id"], r["written_at"]) for r in rows}
    assert all(kept[k] == v for k, v in first_rows.items())  # the old rows untouched
    assert Store(db).integrity() == "ok"
    print(f"killed after {len(before)} of 8 cells ({len(first_rows)} rows); resumed: "
          f"{len(summary.computed)} computed, {len(summary.skipped)} skipped; {len(rows)} rows in the end")


def test_two_sweeps_write_one_store_at_once(tmp_path, model_cache):
    grid = _write_grid(tmp_path / "grid.yaml")
    other = _write_grid(tmp_path / "other.yaml", name="other", chips=["neurram"])
    db = tmp_path / "shared.db"
    Store(db)  # created before, so that both children open an existing WAL file
    # writes pause 0.3 s inside their transaction: the two writers queue on the lock for real
    children = [aimc_cli("sweep", str(g), "--store", str(db), "--cache-dir", str(model_cache),
                         env={PAUSE_ENV: "0.3"}) for g in (grid, grid, other)]
    outputs = [c.communicate(timeout=300)[0] for c in children]
    assert [c.returncode for c in children] == [0, 0, 0], outputs
    store = Store(db)
    rows = store.rows()
    keys = [(r["sweep"], r["cell_key"], r["time_s"], r["compensate"]) for r in rows]
    assert len(keys) == len(set(keys)) == (CELLS + CELLS // 2) * TIMES
    assert {r["sweep"] for r in rows} == {"tiny", "other"}
    assert store.integrity() == "ok"
    # the two runs of the same grid: every cell written once, by one of them
    written = sum(int(o.split(" computed")[0].rsplit(" ", 1)[-1]) for o in outputs[:2])
    assert written == CELLS, outputs


def test_a_store_of_another_schema_is_refused(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, sweep TEXT, cell_key TEXT)")
    con.close()
    with pytest.raises(ValueError, match="lacks time_s"):
        Store(db)
