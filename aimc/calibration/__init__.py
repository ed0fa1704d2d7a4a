"""Keeping a programmed chip accurate over its life: drift compensation."""

from .drift_compensation import (
    Compensation,
    GlobalDriftCompensation,
    NoCompensation,
    build_compensation,
)

__all__ = ["Compensation", "GlobalDriftCompensation", "NoCompensation", "build_compensation"]
