import torch

from aimc.devices import Ideal


def test_ideal_device_is_exact_and_noiseless():
    dev = Ideal()
    g = torch.rand(100) * dev.g_max
    state = dev.program(g, torch.Generator().manual_seed(0))
    assert torch.equal(dev.conductance(state, 1e7), g)
    assert dev.read_noise_std(state, g, 1e7) is None
