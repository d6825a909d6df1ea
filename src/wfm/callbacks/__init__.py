"""Training-time callbacks: periodic linear probes, collapse monitoring, feature writing, plain-text progress,
JEPA-MSAC's heads and baselines at the end of its pretraining."""

from wfm.callbacks.collapse import CollapseMonitor
from wfm.callbacks.msac import MSACEvaluation
from wfm.callbacks.probe import ProbeCallback
from wfm.callbacks.text_progress import TextProgress
from wfm.callbacks.writer import FeatureWriter

__all__ = ["CollapseMonitor", "FeatureWriter", "MSACEvaluation", "ProbeCallback", "TextProgress"]
