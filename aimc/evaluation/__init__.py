"""Accuracy over time, Monte Carlo repeats, effective bits, plots."""

from .enob import LayerENOB, enob
from .over_time import OverTimeResult, accuracy, evaluate_over_time, evaluate_settings
from .plots import plot_accuracy_over_time, plot_program_verify

__all__ = ["LayerENOB", "OverTimeResult", "accuracy", "enob", "evaluate_over_time", "evaluate_settings",
           "plot_accuracy_over_time", "plot_program_verify"]
