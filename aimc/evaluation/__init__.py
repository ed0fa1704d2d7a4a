"""Accuracy over time, Monte Carlo repeats, plots."""

from .over_time import OverTimeResult, accuracy, evaluate_over_time
from .plots import plot_accuracy_over_time

__all__ = ["OverTimeResult", "accuracy", "evaluate_over_time", "plot_accuracy_over_time"]
