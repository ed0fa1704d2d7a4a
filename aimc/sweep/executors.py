"""Executors: where the cells of a sweep run, behind one interface.

Each executor takes tasks ``(cell dict, trained-weights bytes)`` and yields ``(cell key, rows)``
as cells finish, in whatever order; the driver (:func:`aimc.sweep.run_sweep`) writes each
cell's rows to the store as it arrives. A cell's numbers depend only on the cell (its own seed),
so every executor gives the same rows.

- ``inprocess`` (default): one cell after another in this process.
- ``processes``: ``workers`` local worker processes (``concurrent.futures``, *spawn* start
  method: no state forked from a parent that may hold torch threads), torch pinned to one
  thread per worker; each worker ends itself when the driver dies (even by SIGKILL). Spawn
  means a script that calls :func:`aimc.sweep.run_sweep` with ``processes`` must guard its
  top level with ``if __name__ == "__main__":``.
- ``ray``: Ray tasks of one CPU each; a local Ray is started on demand with ``workers`` CPUs,
  or ``address`` joins an existing cluster (``ray start --head`` on one machine, ``ray start
  --address HEAD:PORT`` on the others; see the README's "Sweeps and reports"). Ray is an
  optional extra: ``pip install aimc[ray]``.

Adding an executor: subclass :class:`Executor`, implement :meth:`Executor.run`, add it to
``EXECUTORS``.
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from .._allocator import keep_freed_memory

Task = tuple[dict, bytes]
Result = tuple[str, list[dict]]
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}


def _cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class Executor(ABC):
    """Runs cell tasks; yields ``(cell key, rows)`` as each finishes."""

    name = "executor"

    @abstractmethod
    def run(self, tasks: Iterable[Task]) -> Iterator[Result]: ...

    def close(self) -> None:  # noqa: B027 - most executors hold nothing to release
        """Release workers (called by the driver when the sweep ends)."""

    def describe(self) -> str:
        return self.name


class InProcess(Executor):
    """One cell after another in this process (torch on one thread during each cell)."""

    name = "inprocess"

    def run(self, tasks: Iterable[Task]) -> Iterator[Result]:
        from .runner import run_task

        for task in tasks:
            yield run_task(task)


def _exit_with_parent() -> None:
    """Block until the parent process (the sweep's driver) is gone, then end this worker: a
    driver killed with SIGKILL cannot shut its pool down, and its workers would live on."""
    from multiprocessing.connection import wait as wait_for

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    wait_for([parent.sentinel])
    os._exit(1)


def _init_worker() -> None:
    os.environ.update(THREAD_ENV)
    keep_freed_memory()
    import threading

    import torch

    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, name="aimc-exit-with-parent", daemon=True).start()


class Processes(Executor):
    """``workers`` local processes (spawn), one cell each at a time, torch on one thread."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or _cores()

    def describe(self) -> str:
        return f"processes ({self.workers} workers)"

    def run(self, tasks: Iterable[Task]) -> Iterator[Result]:
        from .runner import run_task

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker) as pool:
            pending = {pool.submit(run_task, task) for task in tasks}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
            finally:
                for future in pending:
                    future.cancel()


RAY_MISSING = "the Ray executor needs Ray: pip install 'aimc[ray]' (or pip install ray)"


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise RuntimeError(RAY_MISSING) from err
    return ray


def _ray_warm() -> int:
    import torch

    keep_freed_memory()
    from .runner import warm_up

    torch.set_num_threads(1)
    warm_up()  # modules and compiled kernels loaded: the worker is ready
    return os.getpid()


def _ray_cell(cell: dict, state: bytes) -> Result:
    from .runner import run_task

    keep_freed_memory()  # once per worker process (cached)
    return run_task((cell, state))


class Ray(Executor):
    """Ray tasks of one CPU each. Without ``address`` a local Ray is started with ``workers``
    CPUs (and shut down at the end); with ``address`` (``HOST:PORT`` of a running head, or
    ``auto``) the sweep joins that cluster and keeps at most ``workers`` cells in flight (all of
    the cluster's CPUs when ``workers`` is None). The workers need aimc importable: installed on
    every node of a real cluster; the driver's source folder is put on ``PYTHONPATH`` for a
    cluster on this machine."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.ray = _import_ray()
        self.address = address
        self.workers = workers
        self._started = False

    def describe(self) -> str:
        where = f"cluster {self.address}" if self.address else "local"
        return f"ray ({where}, {self.workers or 'all'} CPUs)"

    def start(self, warm: bool = False) -> None:
        """Start (or join) Ray now rather than at the first cell; ``warm``: also have one task
        per worker import torch and aimc and load its compiled kernels (:func:`runner.warm_up
        <aimc.sweep.runner.warm_up>`), so that timing the sweep leaves out worker start-up."""
        self._start()
        if warm:
            warm_up = self.ray.remote(num_cpus=1)(_ray_warm)
            self.ray.get([warm_up.remote() for _ in range(self.workers or 1)])

    def _start(self) -> None:
        ray = self.ray
        source = str(Path(__file__).resolve().parents[2])  # the folder holding the aimc package
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
        runtime_env = {"env_vars": {**THREAD_ENV, "PYTHONPATH": path}}
        if ray.is_initialized():
            return
        if self.address:
            ray.init(address=self.address, runtime_env=runtime_env, log_to_driver=False,
                     logging_level="ERROR")
        else:
            cpus = self.workers or _cores()
            self.workers = cpus
            # Ray runs its workers at nice 15 by default: on a machine shared with other jobs the
            # cells would get what those leave over; a sweep started here is the job itself
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, runtime_env=runtime_env,
                     log_to_driver=False, logging_level="ERROR", _system_config={"worker_niceness": 0})
        self._started = True

    def run(self, tasks: Iterable[Task]) -> Iterator[Result]:
        ray = self.ray
        self._start()
        limit = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=2)(_ray_cell)
        states: dict[int, object] = {}  # one object-store copy of each workload's weights
        queue, in_flight = list(tasks), []
        queue.reverse()

        def submit() -> None:
            while queue and len(in_flight) < limit:
                cell, state = queue.pop()
                if id(state) not in states:  # the bytes objects live as long as the queue
                    states[id(state)] = ray.put(state)
                in_flight.append(remote.remote(cell, states[id(state)]))

        submit()
        while in_flight:
            done, in_flight = ray.wait(in_flight, num_returns=1)
            results = ray.get(done)
            try:
                submit()  # the freed worker starts its next cell while the caller stores these rows
            except BaseException:
                yield from results  # finished cells are stored before the error ends the sweep
                raise
            yield from results

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False


EXECUTORS = ("inprocess", "processes", "ray")


def make_executor(name: str = "inprocess", workers: int | None = None,
                  address: str | None = None) -> Executor:
    """An executor by name: ``inprocess``, ``processes`` or ``ray``."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if address and name != "ray":
        raise ValueError(f"--address is for the Ray executor, not {name!r}")
    if name == "inprocess":
        return InProcess()
    if name == "processes":
        return Processes(workers)
    if name == "ray":
        return Ray(workers, address)
    raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
