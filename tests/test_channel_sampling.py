"""wfm.views.channels: uniform channel counts on 1..C, distinct real channels in input order, batch mode."""

from __future__ import annotations

import numpy as np
import torch

from wfm.views.channels import sample_channels


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


def test_holdout_hides_1_to_k_minus_1_channels_and_keeps_the_groups_in_slot_order() -> None:
    from wfm.views.channels import draw_holdout

    counts = np.array([1, 2, 3, 4] * 250)
    order, n_in = draw_holdout(counts, 4, np.random.default_rng(0), prob=1.0)
    assert (np.sort(order, axis=1) == np.arange(4)).all()  # a permutation of the slots
    assert (n_in[counts == 1] == 1).all()  # one channel: nothing to hold out
    multi = counts >= 2
    assert ((n_in[multi] >= 1) & (n_in[multi] <= counts[multi] - 1)).all()
    for k in (3, 4):  # held-out size uniform on 1..k-1
        sizes = np.bincount(counts[counts == k] - n_in[counts == k], minlength=k)[1:]
        assert sizes.min() > 0.7 * sizes.mean()
    for o, k, i in zip(order, counts, n_in, strict=True):
        held_in, held_out, pad = o[:i], o[i:k], o[k:]
        assert (np.diff(held_in) > 0).all() and (np.diff(held_out) > 0).all()
        assert set(pad) == set(range(k, 4)) and set(held_in) | set(held_out) == set(range(k))
    # probability 0.5: about half of the multi-channel samples hold something out; 0: none
    _, half = draw_holdout(counts, 4, np.random.default_rng(1), prob=0.5)
    assert 0.4 < (half[multi] < counts[multi]).mean() < 0.6
    _, none = draw_holdout(counts, 4, np.random.default_rng(1), prob=0.0)
    assert (none == counts).all()
