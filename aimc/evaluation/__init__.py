"""Accuracy over time, Monte Carlo repeats, effective bits, plots."""

from .enob import LayerENOB, enob
from .over_time import OverTimeResult, accuracy, evaluate_over_time
from .plots import plot_accuracy_over_time

__all__ = ["LayerENOB", "OverTimeResult", "enob", "accuracy", "evaluate_over_time", "plot_accuracy_over_time"]
