"""Fine-tuning modes: linear / LoRA / partial training, layer-wise lr decay, LoRA export (the LoRA layers
themselves: models/test_lora.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import TINY_ENCODER_KW, RandomDataModule, tiny_encoder

from wfm.checkpoint import load_backbone
from wfm.methods.finetune import encoder_layer_id, param_groups
from wfm.methods.supervised import Supervised

DIM, DEPTH = TINY_ENCODER_KW["embed_dim"], TINY_ENCODER_KW["depth"]  # 32, 2


def tiny_supervised(**kw) -> Supervised:
    args = dict(encoder_config=tiny_encoder().config, target="label", task_kind="classification",
                num_classes=2)
    args.update(kw)
    return Supervised(**args)


def _one_step(model: Supervised) -> None:
    opt = model.configure_optimizers()
    for g in opt.param_groups:  # the schedule starts at lr 0; take a real step
        g["lr"] = 1e-2 * g["lr_scale"]
    batch = RandomDataModule(n=8).train_dataloader().__iter__().__next__()
    model.shared_step(batch, np.random.default_rng(0), "train")["loss"].backward()
    opt.step()


def test_partial_finetuning_leaves_frozen_blocks_bit_identical() -> None:
    torch.manual_seed(0)
    with pytest.warns(UserWarning):  # no pretrained backbone: freezing random weights is warned about
        model = Supervised(encoder=tiny_encoder(), num_classes=2, finetune="partial", partial_blocks=1)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    _one_step(model)
    after = dict(model.named_parameters())
    for k in before:
        frozen = k.startswith(("encoder.blocks.0.", "encoder.patch_embed"))
        same = torch.equal(before[k], after[k])
        assert same == frozen, k
    assert not torch.equal(before["encoder.norm.weight"], after["encoder.norm.weight"])


@pytest.mark.parametrize("mode,trainable", [("linear", {"head"}), ("lora", {"head", "lora"})])
def test_linear_and_lora_train_only_head_and_adapters(mode: str, trainable: set[str]) -> None:
    model = tiny_supervised(finetune=mode, lora_rank=2)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    kinds = {"lora" if ".lora_" in n else n.split(".")[0] for n in names}
    assert kinds == trainable
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _one_step(model)
    after = model.state_dict()
    for k in before:
        if not (k.startswith("head") or ".lora_" in k):
            assert torch.equal(before[k], after[k]), k


def test_layer_id_and_group_scales() -> None:
    enc = tiny_encoder()
    assert encoder_layer_id("patch_embed.weight", DEPTH) == 0
    assert encoder_layer_id("blocks.1.attn.qkv.lora_q_a", DEPTH) == 2
    assert encoder_layer_id("norm.weight", DEPTH) == DEPTH + 1
    # every tokenizer (IQ segments, complex-channel projections) is an embedding, at the lowest learning rate
    for name in ("iq.proj.weight", "complex_embed.proj.weight", "antenna_embed.table.weight", "modality_scale"):
        assert encoder_layer_id(name, DEPTH) == 0, name
    groups = param_groups(enc, [torch.nn.Linear(DIM, 2)], layer_decay=0.5)
    scale = {g["layer"]: g["lr_scale"] for g in groups}
    assert scale == {0: 0.5**3, 1: 0.5**2, 2: 0.5, 3: 1.0}
    assert all(g["weight_decay"] == 0.0 for g in groups if not g["decay"])
    assert sum(len(g["params"]) for g in groups) == len(list(enc.parameters())) + 2
    with pytest.raises(ValueError, match="layer_decay"):
        param_groups(enc, [], layer_decay=1.5)


def test_layer_decay_sets_per_block_lr_during_training(cpu_trainer) -> None:
    model = tiny_supervised(layer_decay=0.75, lr=1e-3, warmup_fraction=0.0)
    tr = cpu_trainer(max_steps=2, limit_val_batches=0)
    tr.fit(model, RandomDataModule(n=16))
    groups = tr.optimizers[0].param_groups
    lr = model.schedule_values(1)["lr"]  # the last step taken set these
    head_group = next(g for g in groups if any(p is model.head.weight for p in g["params"]))
    assert head_group["lr"] == pytest.approx(lr)
    for i, blk in enumerate(model.encoder.blocks):
        g = next(g for g in groups if any(p is blk.attn.qkv.weight for p in g["params"]))
        assert g["lr"] == pytest.approx(lr * 0.75 ** (DEPTH - i))
    g = next(g for g in groups if any(p is model.encoder.patch_embed.weight for p in g["params"]))
    assert g["lr"] == pytest.approx(lr * 0.75 ** (DEPTH + 1))


def test_pretrained_backbone_with_lora_exports_a_merged_plain_encoder(cpu_trainer, tmp_path) -> None:
    from wfm.methods.mae import MAE

    mae = MAE(encoder=tiny_encoder(), decoder_dim=16, decoder_depth=1, decoder_heads=2, max_channels=4)
    tr = cpu_trainer(max_steps=1, limit_val_batches=0)
    tr.fit(mae, RandomDataModule(n=8))
    tr.save_checkpoint(tmp_path / "mae.ckpt")

    model = Supervised(backbone=str(tmp_path / "mae.ckpt"), num_classes=2, finetune="lora", lora_rank=2)
    x = torch.randn(2, 2, 32, 32)
    assert torch.equal(model.encoder.features(x), mae.encoder.features(x))  # loaded, adapters are a no-op
    tr2 = cpu_trainer(max_steps=2, limit_val_batches=0)
    tr2.fit(model, RandomDataModule(n=16))
    tr2.save_checkpoint(tmp_path / "ft.ckpt")
    exported = load_backbone(tmp_path / "ft.ckpt")
    assert torch.allclose(exported.features(x), model.encoder.features(x), atol=1e-5)
    # rebuilt from the recorded encoder_config, with the LoRA keys in place
    restored = Supervised.load_from_checkpoint(tmp_path / "ft.ckpt")
    assert torch.allclose(restored(x), model(x), atol=1e-6)
