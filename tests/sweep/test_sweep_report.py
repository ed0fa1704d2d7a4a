"""The HTML report renders in a real browser: headless Chromium (Debian ``chromium``) takes a
screenshot (not blank), dumps the DOM after the page's script ran (every stored row in the chip
tables, the figures as SVG) and logs no console error (a page with an error is caught the same
way, so the check can fail)."""

import re
import shutil
import subprocess

import pytest
from sweep_helpers import aimc_cli, tiny_grid

from aimc.sweep import Store, run_sweep, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium is not installed")


def _chromium(*args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--no-first-run", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=timeout)


def _console(stderr: str) -> list[str]:
    """The page's console messages and failed loads in Chromium's log."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Failed to load resource" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory, model_cache):
    folder = tmp_path_factory.mktemp("report")
    store = Store(folder / "results.db")
    grid = tiny_grid(params={"adc.bits": [2, 8], "array.rows": [32, 256]})  # 8 cells, two swept params
    run_sweep(grid, store, cache_dir=model_cache, progress=False)
    child = aimc_cli("report", str(store.path), "-o", str(folder / "report.html"))
    out = child.communicate(timeout=120)[0]
    assert child.returncode == 0, out
    return folder / "report.html", store


def test_report_is_self_contained(report):
    path, store = report
    text = path.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from a network
    assert text.count("<svg") == 2 + 2 + 2  # accuracy, heat map, energy: one each per chip
    assert "adc.bits × array.rows" in text and text.count('class="result"') == len(store.rows()) == 16
    assert "mathdefault" not in text and "$" not in text  # tick labels are plain text, not raw mathtext


def test_report_without_rows_says_why(tmp_path):
    store = Store(tmp_path / "empty.db")
    with pytest.raises(ValueError, match="holds no rows"):
        write_report(store, tmp_path / "r.html")


@needs_chromium
def test_report_renders_in_chromium(report, tmp_path):
    path, store = report
    shot = tmp_path / "shot.png"
    run = _chromium(f"--screenshot={shot}", "--window-size=1280,1800", path.as_uri())
    assert shot.is_file(), run.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05  # figures and tables, not a blank page (blank: std 0)
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.005  # dark ink: text, lines, heat-map cells
    dom = _chromium("--dump-dom", path.as_uri())
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to its end
    assert not _console(dom.stderr), _console(dom.stderr)
    for row in store.rows():
        assert f'data-cell="{row["cell_key"]}"' in dom.stdout
    tables = re.findall(r'<table class="sortable chip-table" data-chip="([\w-]+)"', dom.stdout)
    assert sorted(tables) == ["ibm-hermes-pcm", "neurram"]
    assert len(re.findall(r'<tr class="result"', dom.stdout)) == 16
    assert len(re.findall(r"<svg", dom.stdout)) == 6 and dom.stdout.count("<path") > 50


@needs_chromium
def test_a_console_error_would_be_seen(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>")
    assert _console(_chromium("--dump-dom", page.as_uri()).stderr)


def _fake_rows(cell, accuracy: float) -> list[dict]:
    """Rows as the runner writes them, with made-up numbers (no training: the report only)."""
    return [{"time_s": t, "compensate": True, "accuracy_mean": accuracy, "accuracy_std": 0.01, "n": 3,
             "ci_low": accuracy - 0.02, "ci_high": accuracy + 0.02, "accuracies": "[]",
             "digital_accuracy": 0.95, "energy_j": 1e-9, "energy_low_j": 0.9e-9, "energy_high_j": 1.1e-9,
             "latency_s": 1e-6, "energy_breakdown": '{"adc": 5e-10, "dac": 5e-10}'} for t in cell.times]


def _grid(**changes):
    from aimc.sweep import parse_grid

    return parse_grid({"name": "a", "chips": ["neurram"], "models": ["digits-mlp"], "times": [1, 3600],
                       "params": {"adc.bits": [4, 8], "array.rows": [32, 64]}, "repeats": 3, **changes})


def test_two_versions_of_a_grid_are_not_mixed(tmp_path, capsys):
    """The same grid name run with 3 and then 5 instances: each configuration has two cells; the
    report draws them as separate, labelled lines, warns (page and stderr), and its heat map
    shows the latest version only (never the mean of the two)."""
    from aimc.sweep.report import render

    store = Store(tmp_path / "s.db")
    for cell in _grid().cells():
        store.write_cell("a", cell, _fake_rows(cell, 0.50))
    for cell in _grid(repeats=5).cells():
        store.write_cell("a", cell, _fake_rows(cell, 0.90))
    write_report(store, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert page.count('class="warn"') == 4  # one per configuration (2 x 2)
    assert "stored in 2 versions" in capsys.readouterr().err
    legend = page[page.index('id="accuracy"'):page.index('id="heatmaps"')]
    assert legend.count("adc.bits=4, array.rows=32 [version 1 of 2: 3 instances") == 1  # one line each
    assert legend.count("adc.bits=4, array.rows=32 [version 2 of 2: 5 instances") == 1
    heat = page[page.index('id="heatmaps"'):page.index('id="energy"')]
    assert heat.count(">90.0<") == 4 and ">50.0<" not in heat and ">70.0<" not in heat
    # two sweeps in one page: heat maps per sweep, lines labelled with their sweep
    for cell in _grid(name="b").cells():
        store.write_cell("b", cell, _fake_rows(cell, 0.30))
    page = render(store)
    assert page.count('class="fig heatmap"') == 2 and "b: adc.bits=4, array.rows=32" in page
    assert page.count('class="warn"') == 4  # sweep b has one version of each configuration


def test_report_opens_the_store_read_only_and_takes_any_text(tmp_path):
    """A '$' in a parameter value is text, not mathtext; a heat map with an empty cell renders;
    the report writes nothing to the store (no WAL switch, no schema)."""
    import sqlite3

    from aimc.sweep import parse_grid

    store = Store(tmp_path / "s.db")
    grid = parse_grid({"name": "m", "chips": ["neurram"], "models": ["digits-mlp"], "times": [1],
                       "params": {"name": ["a$\\frac{$b", "c"], "adc.bits": [4, 8]}, "repeats": 3})
    for i, cell in enumerate(grid.cells()[:3]):  # the 4th cell missing: a NaN in the heat map
        store.write_cell("m", cell, _fake_rows(cell, 0.5 + 0.1 * i))
    con = sqlite3.connect(tmp_path / "s.db")
    con.execute("PRAGMA journal_mode = DELETE")  # as if written by another tool: not WAL
    con.close()
    before = (tmp_path / "s.db").read_bytes()
    write_report(tmp_path / "s.db", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "a$\\frac{$b" in page and page.count('class="fig heatmap"') == 1
    assert (tmp_path / "s.db").read_bytes() == before and not (tmp_path / "s.db-wal").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValueError, match="not an aimc results store"):
        write_report(other, tmp_path / "o.html")
