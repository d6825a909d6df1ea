"""LightningDataModules: the pretraining mix, one downstream task, and a suite of tasks probed together."""

from wfm.data.datamodules.downstream import DownstreamDataModule
from wfm.data.datamodules.pretrain import PretrainDataModule
from wfm.data.datamodules.probe_suite import ProbeSuite, check_downstream
from wfm.data.datamodules.sampler import ChannelGroupedBatchSampler

__all__ = [
    "ChannelGroupedBatchSampler",
    "DownstreamDataModule",
    "PretrainDataModule",
    "ProbeSuite",
    "check_downstream",
]
