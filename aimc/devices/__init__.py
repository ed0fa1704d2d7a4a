"""Device technologies: programming, drift and read noise of one conductance, in SI units."""

from .base import Device, State
from .ideal import Ideal
from .pcm import PCM

DEVICES: dict[str, type[Device]] = {"ideal": Ideal, "pcm": PCM}

__all__ = ["DEVICES", "Device", "Ideal", "PCM", "State"]
