"""Training methods (LightningModules) that share one encoder: JEPA (LatentWave), MAE (WavesFM), supervised;
JEPA-MSAC and its reconstruction baseline on multi-sensor sequences.

``WFMMethod`` owns what they share (encoder, optimiser and schedules, per-step randomness, checkpoint
record); ``MomentumMethod`` adds EMA targets. A new method subclasses one of them and writes its step.
"""

from wfm.methods.base import WFMMethod
from wfm.methods.jepa import JEPA
from wfm.methods.mae import MAE
from wfm.methods.momentum import MomentumMethod
from wfm.methods.msac import MSACJEPA, MSACMethod, MSACReconstruction
from wfm.methods.supervised import Supervised

__all__ = ["JEPA", "MAE", "MSACJEPA", "MSACMethod", "MSACReconstruction", "MomentumMethod", "Supervised", "WFMMethod"]
