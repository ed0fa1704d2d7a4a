"""Keeping a programmed chip accurate over its life: drift compensation, program-and-verify,
reference cells and their closed-loop controller, aging and refresh policies."""

from .aging import ENDURANCE, Endurance, Wear
from .drift_compensation import (
    Compensation,
    GlobalDriftCompensation,
    NoCompensation,
    build_compensation,
)
from .program_verify import ProgramVerify, VerifyHistory
from .reference_cells import ClosedLoop, ReferenceBank, ReferenceCells
from .refresh import NoRefresh, PeriodicRefresh, Refresh, ThresholdRefresh

__all__ = ["ENDURANCE", "ClosedLoop", "Compensation", "Endurance", "GlobalDriftCompensation",
           "NoCompensation",
           "NoRefresh", "PeriodicRefresh", "ProgramVerify", "ReferenceBank", "ReferenceCells", "Refresh",
           "ThresholdRefresh", "VerifyHistory", "Wear", "build_compensation"]
