"""Keeping a programmed chip accurate over its life: drift compensation, program-and-verify."""

from .drift_compensation import (
    Compensation,
    GlobalDriftCompensation,
    NoCompensation,
    build_compensation,
)
from .program_verify import ProgramVerify, VerifyHistory

__all__ = ["Compensation", "GlobalDriftCompensation", "NoCompensation", "ProgramVerify",
           "VerifyHistory", "build_compensation"]
