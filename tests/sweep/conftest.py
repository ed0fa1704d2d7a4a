"""One cache of trained workloads for the whole session (each workload is trained once)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweep-models")
