"""Accuracy over time, Monte Carlo repeats, effective bits, plots."""

from .enob import LayerENOB, enob
from .lifetime import (
    POLICIES,
    LifetimeConfig,
    LifetimePolicy,
    LifetimeResult,
    plot_lifetime,
    simulate_lifetime,
)
from .over_time import OverTimeResult, accuracy, evaluate_over_time, evaluate_settings
from .plots import plot_accuracy_over_time, plot_program_verify

__all__ = ["POLICIES", "LayerENOB", "LifetimeConfig", "LifetimePolicy", "LifetimeResult", "OverTimeResult",
           "accuracy", "enob", "evaluate_over_time", "evaluate_settings", "plot_accuracy_over_time",
           "plot_lifetime", "plot_program_verify", "simulate_lifetime"]
