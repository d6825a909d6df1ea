"""LightningDataModules: thin wrappers that split, batch and load prepared datasets."""

from wfm.data.datamodules.downstream import (
    BeamDataModule,
    DownstreamDataModule,
    LoSDataModule,
    PositioningDataModule,
    RFSDataModule,
)
from wfm.data.datamodules.pretrain import PretrainDataModule
from wfm.data.datamodules.sampler import ChannelGroupedBatchSampler

__all__ = [
    "BeamDataModule",
    "ChannelGroupedBatchSampler",
    "DownstreamDataModule",
    "LoSDataModule",
    "PositioningDataModule",
    "PretrainDataModule",
    "RFSDataModule",
]
