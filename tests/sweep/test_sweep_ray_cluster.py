"""A local multi-node Ray cluster on this machine (a head node and a second node, one CPU each,
started with ``ray start`` as the README's cluster recipe does); ``aimc sweep --executor ray
--address`` runs the tiny grid on it and gives the rows of an in-process run."""

import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sweep_helpers import ROOT, TINY, aimc_cli, by_cell, tiny_grid

from aimc.sweep import Store, run_sweep

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="ray is not installed (pip install 'aimc[ray]')")
RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _auth(tmp_path: Path) -> dict[str, str]:
    """Ray's token authentication (on by default since Ray 2.5x) with a token of this test's own,
    given to every node and client as a cluster's nodes get it (see the README's recipe)."""
    token = tmp_path / "ray-token"
    token.write_text(secrets.token_hex(32))
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}


def _node(auth: dict, *args: str) -> subprocess.Popen:
    """``ray start --block ARGS`` in a session of its own: stopped through that session, so the
    test ends only the Ray processes it started (``ray stop`` would stop every Ray of the user)."""
    env = {**os.environ, **auth, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.Popen([RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _session(sid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "-s", str(sid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _stop(node: subprocess.Popen) -> None:
    """SIGTERM to the node's ``ray start``; after 10 s SIGKILL to every process of its session
    (Ray's workers run in process groups of their own, in the same session)."""
    node.terminate()
    try:
        node.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for pid in _session(node.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.wait()


def _cluster_cpus(address: str, auth: dict) -> float:
    code = (f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
            "print(ray.cluster_resources().get('CPU', 0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **auth})
    return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0.0


def test_sweep_on_a_two_node_cluster(tmp_path, model_cache):
    port = _free_port()
    address = f"127.0.0.1:{port}"
    auth = _auth(tmp_path)
    head = _node(auth, "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
                 "--include-dashboard=false")
    nodes = [head]
    try:
        deadline = time.monotonic() + 60
        second_started = False
        while time.monotonic() < deadline:
            cpus = _cluster_cpus(address, auth)
            if cpus >= 1 and not second_started:
                nodes.append(_node(auth, "--address", address, "--node-ip-address", "127.0.0.1"))
                second_started = True
            if cpus >= 2:
                break
            time.sleep(1)
        assert _cluster_cpus(address, auth) == 2, "the two-node Ray cluster did not come up"
        grid = tmp_path / "grid.yaml"
        grid.write_text(yaml.safe_dump(TINY))
        db = tmp_path / "cluster.db"
        child = aimc_cli("sweep", str(grid), "--store", str(db), "--executor", "ray", "--address", address,
                         "--workers", "2", "--cache-dir", str(model_cache), env=auth)
        out = child.communicate(timeout=300)[0]
        assert child.returncode == 0, out
    finally:
        for node in reversed(nodes):
            _stop(node)
    rows = Store(db).rows()
    assert len({r["worker"] for r in rows}) >= 2  # cells ran in two Ray worker processes at once
    reference = Store(tmp_path / "ref.db")
    run_sweep(tiny_grid(), reference, cache_dir=model_cache, progress=False)
    assert by_cell(rows) == by_cell(reference.rows())
