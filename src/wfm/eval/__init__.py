"""Evaluation: the linear-probe protocol, its metrics, RankMe, result tables, ``wfm test`` evaluator."""

from wfm.eval.evaluator import LinearProbeEvaluator
from wfm.eval.features import extract_features
from wfm.eval.metrics import mean_per_class_accuracy, mean_position_error
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.rankme import feature_std, rankme
from wfm.eval.tables import results_to_csv, results_to_markdown, write_results

__all__ = [
    "LinearProbeEvaluator",
    "ProbeResult",
    "extract_features",
    "feature_std",
    "linear_probe",
    "mean_per_class_accuracy",
    "mean_position_error",
    "rankme",
    "results_to_csv",
    "results_to_markdown",
    "write_results",
]
