"""The results store: a cell is written all or nothing, a killed sweep resumes without
recomputing or duplicating, and two sweeps writing to one store at once do not corrupt it."""

import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml
from sweep_helpers import ROOT, TINY, aimc_cli, tiny_grid

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
    # the marker is removed before COMMIT: still there, its cell was killed before committing
    assert marker.exists()
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


def _open_store(path, barrier, results) -> None:
    barrier.wait()  # all processes open the new store at the same moment
    try:
        Store(path)
        results.put("ok")
    except Exception as err:  # noqa: BLE001 - reported to the test
        results.put(f"{type(err).__name__}: {err}")


def test_processes_creating_a_new_store_at_once_all_succeed(tmp_path):
    """Switching a new file to WAL takes a lock that busy_timeout does not wait for: the store
    retries, so several processes opening (creating) the same missing store together all succeed
    (without the retry, about one run of this test in two failed with "database is locked")."""
    ctx = multiprocessing.get_context("fork")  # aimc already imported: the children start at once
    failures = []
    for trial in range(30):
        barrier, results = ctx.Barrier(4), ctx.Queue()
        children = [ctx.Process(target=_open_store, args=(tmp_path / f"new{trial}.db", barrier, results))
                    for _ in range(4)]
        for c in children:
            c.start()
        outcome = [results.get(timeout=120) for _ in children]
        for c in children:
            c.join()
        failures += [o for o in outcome if o != "ok"]
    assert failures == []


def test_cli_names_a_store_that_is_not_a_database(tmp_path, model_cache):
    grid = _write_grid(tmp_path / "grid.yaml")
    bad = tmp_path / "notes.db"
    bad.write_text("these are my notes, not a database\n" * 20)
    for args in (("sweep", str(grid), "--store", str(bad), "--cache-dir", str(model_cache)),
                 ("report", str(bad), "-o", str(tmp_path / "r.html"))):
        child = aimc_cli(*args)
        out = child.communicate(timeout=120)[0]
        assert child.returncode == 2, out
        assert "not a database" in out and "Traceback" not in out, out
        assert len(out.strip().splitlines()) == 1, out


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _workers_of(pid: int) -> list[int]:
    """Pids of the spawned multiprocessing workers whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_processes_workers_end_when_the_driver_is_killed(tmp_path, model_cache):
    grid = _write_grid(tmp_path / "grid.yaml", params={"adc.bits": [2, 3, 4, 5, 6, 7, 8]})  # 14 cells
    db = tmp_path / "results.db"
    # each write pauses 1 s: the driver is still running when its two workers have both worked
    child = aimc_cli("sweep", str(grid), "--store", str(db), "--cache-dir", str(model_cache),
                     "--executor", "processes", "--workers", "2", env={PAUSE_ENV: "1"})
    deadline = time.monotonic() + 180
    workers: list[int] = []
    while time.monotonic() < deadline and child.poll() is None:
        workers = _workers_of(child.pid)
        if len(workers) == 2 and len(_stored(db)) >= 2:
            break
        time.sleep(0.1)
    assert child.poll() is None and len(workers) == 2 and all(map(_alive, workers)), child.stdout.read()
    child.send_signal(signal.SIGKILL)  # the driver cannot shut its pool down
    child.wait()
    deadline = time.monotonic() + 30  # a bound on liveness, not a speed figure (about 0.1 s here)
    while time.monotonic() < deadline and any(map(_alive, workers)):
        time.sleep(0.1)
    assert not any(map(_alive, workers)), [w for w in workers if _alive(w)]


def test_rows_keep_the_code_version_of_the_worker_that_ran_them(tmp_path):
    store = Store(tmp_path / "s.db")
    cell = tiny_grid().cells()[0]
    store.write_cell("tiny", cell, [{"time_s": 1.0, "compensate": True, "code_version": "aimc 9.9 (worker)"}])
    assert store.rows()[0]["code_version"] == "aimc 9.9 (worker)"


def _version_of_copy(package_parent) -> str:
    import shutil

    shutil.copytree(ROOT / "aimc", package_parent / "aimc", ignore=shutil.ignore_patterns("__pycache__"))
    script = "from aimc.sweep.store import code_version; print(code_version())"
    out = subprocess.run([sys.executable, "-c", script], cwd=package_parent, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(package_parent)}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_code_version_asks_git_only_at_the_top_of_a_checkout(tmp_path):
    import aimc

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    repo = tmp_path / "repo"
    (repo / "vendored").mkdir(parents=True)
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    # aimc copied into a subfolder of another project's repository: that repository's commit is
    # not aimc's, so the package version only
    assert _version_of_copy(repo / "vendored") == f"aimc {aimc.__version__}"
    # aimc at the top of its own checkout: the version and git describe
    top = tmp_path / "top"
    top.mkdir()
    subprocess.run([*git, "init", "-q", str(top)], check=True)
    subprocess.run([*git, "-C", str(top), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    assert re.fullmatch(rf"aimc {re.escape(aimc.__version__)} \([0-9a-f]+(-dirty)?\)", _version_of_copy(top))
