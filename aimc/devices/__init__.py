"""Device technologies: programming, drift and read noise of one conductance, in SI units, and
the pulsed update responses of devices trained on chip (``pulsed``)."""

from .base import Device, State
from .flash import Flash
from .ideal import Ideal
from .measured import DeviceCSVError, MeasuredDevice, read_device_csv, write_device_csv
from .pcm import PCM
from .pulsed import PULSED_DEVICES, ConstantStep, ExpStep, PulsedDevice, SoftBounds
from .rram import RRAM

DEVICES: dict[str, type[Device]] = {
    "ideal": Ideal, "pcm": PCM, "rram": RRAM, "flash": Flash, "measured": MeasuredDevice,
}

__all__ = [
    "DEVICES", "PCM", "PULSED_DEVICES", "RRAM", "ConstantStep", "Device", "DeviceCSVError", "ExpStep",
    "Flash", "Ideal", "MeasuredDevice", "PulsedDevice", "SoftBounds", "State", "read_device_csv",
    "write_device_csv",
]
