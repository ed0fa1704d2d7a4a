import pytest
import torch

from aimc.chips import ChipSpec, load_chip


@pytest.fixture(autouse=True)
def _fixed_global_seed():
    # layer initialisation uses torch's global RNG; fix it so every test is reproducible
    torch.manual_seed(1234)


@pytest.fixture
def ideal_chip() -> ChipSpec:
    return load_chip("ideal")


@pytest.fixture
def pcm_chip() -> ChipSpec:
    return load_chip("ibm-hermes-pcm")
