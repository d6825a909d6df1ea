"""LightningDataModules: the pretraining mix, one downstream task, and a suite of tasks probed together."""

from wfm.data.datamodules.downstream import (
    BeamDataModule,
    DownstreamDataModule,
    LoSDataModule,
    PositioningDataModule,
    RFSDataModule,
)
from wfm.data.datamodules.pretrain import PretrainDataModule
from wfm.data.datamodules.probe_suite import ProbeSuite, check_downstream
from wfm.data.datamodules.sampler import ChannelGroupedBatchSampler

__all__ = [
    "BeamDataModule",
    "ChannelGroupedBatchSampler",
    "DownstreamDataModule",
    "LoSDataModule",
    "PositioningDataModule",
    "PretrainDataModule",
    "ProbeSuite",
    "RFSDataModule",
    "check_downstream",
]
