"""Training-time callbacks: periodic linear probes, collapse monitoring, feature writing."""

from wfm.callbacks.collapse import CollapseMonitor
from wfm.callbacks.probe import ProbeCallback
from wfm.callbacks.writer import FeatureWriter

__all__ = ["CollapseMonitor", "FeatureWriter", "ProbeCallback"]
