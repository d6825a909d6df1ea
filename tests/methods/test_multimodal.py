"""Multimodal pretraining: image-like and raw-IQ batches round-robin through one encoder (JEPA and MAE)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from helpers import assert_same_training_state
from lightning.pytorch.callbacks import ModelCheckpoint
from tiny import StopAt

from wfm.data.datamodules import PretrainDataModule
from wfm.data.datamodules.sampler import ChannelGroupedBatchSampler
from wfm.methods import JEPA, MAE
from wfm.models import ViTEncoder
from wfm.views import RegionMask

IQ_LEN = 64


def _encoder() -> ViTEncoder:
    return ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, iq_length=IQ_LEN,
                      channel_embed="fixed")


def _method(kind: str, **kw) -> L.LightningModule:
    if kind == "jepa":
        return JEPA(encoder=_encoder(), masking=RegionMask(num_targets=2, min_context=4),
                    predictor_dim=16, predictor_depth=1, predictor_heads=2, warmup_fraction=0.25,
                    momentum_start=0.9, momentum_end=0.99, **kw)
    return MAE(encoder=_encoder(), decoder_dim=16, decoder_depth=1, decoder_heads=2, warmup_fraction=0.25, **kw)


def _data(tmp_path: Path) -> PretrainDataModule:
    return PretrainDataModule(datasets=["csi_ri", "iq2"], n=24, size=32, iq_length=IQ_LEN, batch_size=4,
                              val_fraction=0, cache_dir=str(tmp_path / "cache"))


class _Modalities(L.Callback):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.append(pl_module.encoder.family(batch["modality"]))  # the batch says what it holds



def _iq_batch() -> dict:
    return {"x": torch.randn(3, 2, 2, IQ_LEN), "channels": torch.tensor([2, 1, 2]), "modality": "iq"}


def _image_batch() -> dict:
    return {"x": torch.randn(3, 2, 32, 32), "channels": torch.tensor([2, 2, 1]), "modality": "csi"}

def test_round_robin_batches_alternate_and_never_mix_kinds() -> None:
    counts = [2] * 10 + [2] * 6 + [1] * 4  # image-like 2 channels, IQ 2 antennas, IQ 1 antenna
    kinds = [0] * 10 + [1] * 10
    sampler = ChannelGroupedBatchSampler(counts, 2, seed=3, kinds=kinds)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    kind_of = [kinds[b[0]] for b in batches]
    assert all(len({kinds[i] for i in b}) == 1 and len({counts[i] for i in b}) == 1 for b in batches)
    assert kind_of == [0, 1] * 5  # both modalities have 5 batches: strict alternation
    assert sorted(i for b in batches for i in b) == list(range(20))
    assert list(ChannelGroupedBatchSampler(counts, 2, seed=3, kinds=kinds)) == batches  # seeded per epoch
    uneven = ChannelGroupedBatchSampler([1] * 12, 2, seed=0, kinds=[0] * 8 + [1] * 4)
    assert [0 if b[0] < 8 else 1 for b in uneven] == [0, 1, 0, 1, 0, 0]  # then the rest of the larger one
    # under DDP every rank alternates as well: rank r takes every world-th batch
    # (5 batches of each kind: the last round has one of each, so the ranks' last batches differ)
    for rank, expected in ((0, [0, 1, 0, 1, 0]), (1, [0, 1, 0, 1, 1])):
        shard = list(ChannelGroupedBatchSampler(counts, 2, seed=3, kinds=kinds, rank=rank, world_size=2))
        assert [kinds[b[0]] for b in shard] == expected


@pytest.mark.parametrize("kind", ["jepa", "mae"])
def test_one_optimizer_step_per_round_trains_both_tokenizers(kind: str, cpu_trainer, tmp_path: Path) -> None:
    L.seed_everything(0)
    model, rec = _method(kind), _Modalities()
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    trainer = cpu_trainer(max_epochs=1, accumulate_grad_batches=2, callbacks=[rec], limit_val_batches=0)
    trainer.fit(model, _data(tmp_path))
    assert rec.seen == ["image", "iq"] * 6  # 6 image-like and 6 IQ batches, round-robin
    assert trainer.global_step == 6  # one optimizer step per round of one batch of each modality
    after = model.encoder.state_dict()
    for key in ("patch_embed.weight", "iq.proj.weight", "modality_scale", "blocks.0.attn.qkv.weight"):
        assert not torch.equal(before[key], after[key]), key
    # each modality's affine row moved: both were in the summed gradient of a step
    assert not torch.equal(before["modality_shift"][0], after["modality_shift"][0])
    assert not torch.equal(before["modality_shift"][1], after["modality_shift"][1])


@pytest.mark.parametrize("kind", ["jepa", "mae"])
def test_lr_scales_give_the_iq_tokenizer_its_own_learning_rate(kind: str, cpu_trainer, tmp_path: Path) -> None:
    L.seed_everything(0)
    model = _method(kind, lr_scales={"encoder.iq": 3.0})
    trainer = cpu_trainer(max_steps=2, accumulate_grad_batches=2, limit_val_batches=0)
    trainer.fit(model, _data(tmp_path))
    group_of = {id(p): g for g in trainer.optimizers[0].param_groups for p in g["params"]}
    iq_w, iq_b = group_of[id(model.encoder.iq.proj.weight)], group_of[id(model.encoder.iq.proj.bias)]
    other = group_of[id(model.encoder.patch_embed.weight)]
    # the scheduled lr of the last step, times the factor; weight decay still spares 1-D parameters
    assert other["lr"] > 0 and iq_w["lr"] == pytest.approx(3.0 * other["lr"])
    assert iq_b["lr"] == pytest.approx(3.0 * other["lr"]) and iq_b["weight_decay"] == 0.0
    assert iq_w["weight_decay"] == other["weight_decay"] > 0
    assert group_of[id(model.encoder.blocks[0].attn.qkv.weight)] is other
    # every trainable parameter is in exactly one group
    n_opt = sum(len(g["params"]) for g in trainer.optimizers[0].param_groups)
    assert n_opt == len({id(p) for m in model.trainable_modules() for p in m.parameters()})


def test_lr_scales_refuse_a_prefix_that_matches_nothing() -> None:
    with pytest.raises(ValueError, match=r"lr_scales: no trainable parameter under \['encoder.iqq'\]"):
        _method("jepa", lr_scales={"encoder.iqq": 2.0}).configure_optimizers()
    with pytest.raises(ValueError, match="factors must be > 0"):
        _method("jepa", lr_scales={"encoder.iq": 0.0})


@pytest.mark.parametrize("kind", ["jepa", "mae"])
def test_modality_weight_sets_each_modalitys_share_of_the_step(kind: str, cpu_trainer, tmp_path: Path) -> None:
    L.seed_everything(0)
    model = _method(kind, modality_weight={"iq": 0.0})
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    trainer = cpu_trainer(max_steps=3, accumulate_grad_batches=2, limit_val_batches=0)
    trainer.fit(model, _data(tmp_path))
    after = model.encoder.state_dict()
    # IQ batches still run (their loss is logged, unweighted) but add nothing to the step: the IQ
    # tokenizer's undecayed bias and the IQ row of the modality affine never move, the image path does
    assert torch.isfinite(trainer.logged_metrics["train/loss_step"])
    assert torch.equal(before["iq.proj.bias"], after["iq.proj.bias"])
    assert torch.equal(before["modality_shift"][1], after["modality_shift"][1])
    assert not torch.equal(before["modality_shift"][0], after["modality_shift"][0])
    assert not torch.equal(before["patch_embed.bias"], after["patch_embed.bias"])
    assert model.modality_weight == {"image": 1.0, "iq": 0.0}


def test_modality_weight_refuses_unknown_modalities_and_negative_factors() -> None:
    unknown = r"modality_weight: unknown modalities \['audio'\]; this encoder takes \['image', 'iq'\]"
    with pytest.raises(ValueError, match=unknown):
        _method("jepa", modality_weight={"audio": 1.0})
    with pytest.raises(ValueError, match=r"modality_weight factors must be >= 0, got \{'iq': -1.0\}"):
        _method("mae", modality_weight={"iq": -1.0})


def _fit(make_trainer, tmp: Path, data_root: Path, stop: int | None = None, ckpt: str | None = None):
    L.seed_everything(0)
    model = _method("jepa")
    cbs: list = [ModelCheckpoint(dirpath=tmp, save_last=True, save_top_k=0, every_n_train_steps=2)]
    if stop:
        cbs.append(StopAt(stop))
    trainer = make_trainer(max_steps=4, accumulate_grad_batches=2, callbacks=cbs, deterministic=True,
                           enable_checkpointing=True, limit_val_batches=0)
    trainer.fit(model, _data(data_root), ckpt_path=ckpt)
    return model, trainer


def test_exact_resume_of_a_multimodal_run(cpu_trainer, tmp_path: Path) -> None:
    straight, t1 = _fit(cpu_trainer, tmp_path / "straight", tmp_path)
    _fit(cpu_trainer, tmp_path / "cut", tmp_path, stop=2)
    ckpt = tmp_path / "cut" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 2
    resumed, t2 = _fit(cpu_trainer, tmp_path / "cut", tmp_path, ckpt=str(ckpt))
    assert t1.global_step == 4
    assert_same_training_state(straight, t1, resumed, t2)


def test_a_mix_without_grouping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs group_by_channels=True"):
        PretrainDataModule(datasets=["csi_ri", "iq2"], group_by_channels=False)
    assert np.array_equal(_encoder().grid("iq"), (1, IQ_LEN // 16))


def test_masks_are_drawn_on_the_grid_of_the_batch_modality() -> None:
    model = _method("jepa")
    drawn: list[tuple[str, tuple[int, int]]] = []

    def recording(gen, name):
        def draw(b, grid, rng):
            drawn.append((name, tuple(grid)))
            return gen(b, grid, rng)
        return draw

    model.masking, model.iq_masking = recording(model.masking, "image"), recording(model.iq_masking, "iq")
    rng = np.random.default_rng(0)
    with torch.no_grad():
        model.shared_step(_iq_batch(), rng, "val")
        model.shared_step(_image_batch(), rng, "val")
    # IQ: 1-D spans over the time segments of every antenna; images: the patch grid
    assert drawn == [("iq", (1, IQ_LEN // 16)), ("image", (4, 4))]


def test_regulariser_only_on_the_chosen_modality() -> None:
    model = JEPA(encoder=_encoder(), masking=RegionMask(num_targets=2, min_context=4),
                 predictor_dim=16, predictor_depth=1, predictor_heads=2, regularizer="vicreg", reg_weight=1.0,
                 reg_modalities=["iq"])
    rng = np.random.default_rng(0)
    iq = model.shared_step(_iq_batch(), rng, "train")
    image = model.shared_step(_image_batch(), rng, "train")
    torch.testing.assert_close(iq["loss"].detach(), iq["pred_loss"] + iq["reg"])
    assert "reg" not in image and "pred_loss" not in image
    with pytest.raises(ValueError, match="reg_modalities must be a non-empty subset"):
        JEPA(encoder=_encoder(), reg_modalities=["audio"])


def test_each_modality_gets_its_own_regulariser(monkeypatch) -> None:  # noqa: ANN001
    import wfm.methods.jepa as jepa_module

    model = JEPA(encoder=_encoder(), masking=RegionMask(num_targets=2, min_context=4),
                 predictor_dim=16, predictor_depth=1, predictor_heads=2,
                 regularizer={"image": "sigreg", "iq": "vicreg"}, reg_weight={"image": 0.05, "iq": 10.0},
                 reg_level={"image": "token"})
    seen = []
    real = jepa_module.regularizer_loss

    def record(name, z, rng, n_ref=None):  # noqa: ANN001
        seen.append((name, tuple(z.shape), n_ref))
        return real(name, z, rng, n_ref=n_ref)

    monkeypatch.setattr(jepa_module, "regularizer_loss", record)
    rng = np.random.default_rng(0)
    iq = model.shared_step(_iq_batch(), rng, "train")
    image = model.shared_step(_image_batch(), rng, "train")
    # IQ: VICReg on the 3 pooled features; image-like: SIGReg on every context token, scaled to the batch of 3
    assert seen[0] == ("vicreg", (3, 32), None)
    assert seen[1][0] == "sigreg" and seen[1][1][0] > 3 and seen[1][2] == 3
    torch.testing.assert_close(iq["loss"].detach(), iq["pred_loss"] + 10.0 * iq["reg"])
    torch.testing.assert_close(image["loss"].detach(), image["pred_loss"] + 0.05 * image["reg"])
    # a modality a mapping leaves out gets no penalty; a key the encoder does not take is refused
    only_iq = JEPA(encoder=_encoder(), regularizer={"iq": "vicreg"}, reg_weight=1.0)
    assert set(only_iq.regularizers) == {"iq"}
    with pytest.raises(ValueError, match=r"regularizer: unknown modalities \['audio'\]"):
        JEPA(encoder=_encoder(), regularizer={"audio": "vicreg"})
    with pytest.raises(ValueError, match="regularizer must be one of"):
        JEPA(encoder=_encoder(), regularizer={"iq": "barlow"})
