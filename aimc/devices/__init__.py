"""Device technologies: programming, drift and read noise of one conductance, in SI units."""

from .base import Device, State
from .flash import Flash
from .ideal import Ideal
from .measured import DeviceCSVError, MeasuredDevice, read_device_csv, write_device_csv
from .pcm import PCM
from .rram import RRAM

DEVICES: dict[str, type[Device]] = {
    "ideal": Ideal, "pcm": PCM, "rram": RRAM, "flash": Flash, "measured": MeasuredDevice,
}

__all__ = [
    "DEVICES", "PCM", "RRAM", "Device", "DeviceCSVError", "Flash", "Ideal", "MeasuredDevice",
    "State", "read_device_csv", "write_device_csv",
]
