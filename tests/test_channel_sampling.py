"""wfm.channel_sampling: uniform channel counts on 1..C, distinct real channels in input order, batch mode."""

from __future__ import annotations

import numpy as np
import torch

from wfm.channel_sampling import sample_channels


def test_channel_sampling_is_uniform_on_1_to_c() -> None:
    x = torch.arange(4.0).view(1, 4, 1, 1).expand(4000, 4, 2, 2).contiguous()
    channels = torch.full((4000,), 4)
    out, k, ids = sample_channels(x, channels, np.random.default_rng(0), "sample")
    counts = np.bincount(k.numpy(), minlength=5)[1:] / 4000
    assert np.allclose(counts, 0.25, atol=0.03)
    # kept channels are distinct real channels
    first = out[:, :, 0, 0]
    for i in range(50):
        kept = first[i, : k[i]].tolist()
        assert len(set(kept)) == len(kept)
        # every slot says which input channel it holds, and the kept ones stay in input order
        assert kept == ids[i, : k[i]].float().tolist() == sorted(kept)
    # padded slots are never picked
    x2 = torch.zeros(100, 3, 2, 2)
    x2[:, 0] = 1.0
    out2, k2, _ = sample_channels(x2, torch.ones(100, dtype=torch.long), np.random.default_rng(0), "sample")
    assert (k2 == 1).all() and (out2[:, 0] == 1).all()
    _, kb, _ = sample_channels(x, channels, np.random.default_rng(0), "batch")
    assert len(set(kb.tolist())) == 1


def test_host_counts_give_the_same_draw_and_the_datamodules_keep_them_off_the_device() -> None:
    from wfm.data.datamodules import DownstreamDataModule, PretrainDataModule

    x = torch.randn(6, 4, 2, 2)
    channels = torch.tensor([1, 2, 3, 4, 4, 2])
    a = sample_channels(x, channels, np.random.default_rng(5), "sample")
    b = sample_channels(x, channels, np.random.default_rng(5), "sample", counts=channels.numpy())
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    for dm in (PretrainDataModule(datasets=["spectrogram"], n=16, size=32),
               DownstreamDataModule(dataset="rfs", n=16, size=32)):
        batch = dm.on_before_batch_transfer({"x": x, "channels": channels}, 0)
        assert isinstance(batch["channels_host"], np.ndarray)
        assert batch["channels_host"].tolist() == channels.tolist()
