"""LightningDataModules: the pretraining mix, one downstream task, a suite of tasks probed together, and windows of
multi-sensor sequences (JEPA-MSAC)."""

from wfm.data.datamodules.downstream import DownstreamDataModule
from wfm.data.datamodules.pretrain import PretrainDataModule
from wfm.data.datamodules.probe_suite import ProbeSuite, check_downstream
from wfm.data.datamodules.sampler import ChannelGroupedBatchSampler
from wfm.data.datamodules.sequence import SequenceDataModule

__all__ = [
    "ChannelGroupedBatchSampler",
    "DownstreamDataModule",
    "PretrainDataModule",
    "ProbeSuite",
    "SequenceDataModule",
    "check_downstream",
]
