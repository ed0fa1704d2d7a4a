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
