"""Evaluation: the linear-probe protocol, its metrics, RankMe, the probe report and its tables and plots,
and the ``wfm test`` evaluator."""

from wfm.eval.evaluator import LinearProbeEvaluator
from wfm.eval.features import extract_features
from wfm.eval.metrics import mean_per_class_accuracy, mean_position_error
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.rankme import feature_std, rankme
from wfm.eval.report import ProbeReport, probe_report, publish, task_features
from wfm.eval.subset import ProbeSubset
from wfm.eval.tables import results_to_csv, results_to_markdown, write_results

__all__ = [
    "LinearProbeEvaluator",
    "ProbeReport",
    "ProbeResult",
    "ProbeSubset",
    "extract_features",
    "feature_std",
    "linear_probe",
    "mean_per_class_accuracy",
    "mean_position_error",
    "probe_report",
    "publish",
    "rankme",
    "results_to_csv",
    "results_to_markdown",
    "task_features",
    "write_results",
]
