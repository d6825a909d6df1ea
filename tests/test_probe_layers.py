"""wfm.probe_layers (the ``wfm-probe-layers`` command, was tools/probe_layers.py): per-block probes of a
checkpoint's encoders on a built-in task."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from wfm.checkpoint import backbone_entry
from wfm.models import ViTEncoder
from wfm.probe_layers import BlockFeatures, checkpoint_encoders, main

CONFIG = dict(img_size=16, patch_size=8, embed_dim=32, depth=2, num_heads=4, channel_embed="fixed")


def _jepa_checkpoint(path):
    torch.manual_seed(1)
    context, target = ViTEncoder(**CONFIG), ViTEncoder(**CONFIG)
    state = {**{f"encoder.{k}": v for k, v in context.state_dict().items()},
             **{f"target_encoder.{k}": v for k, v in target.state_dict().items()}}
    torch.save({"state_dict": state, "wfm_backbone": backbone_entry(target, CONFIG, encoder="target")}, path)
    return context, target


def test_block_features_end_with_the_encoders_own_pooled_block_output():
    torch.manual_seed(0)
    enc = ViTEncoder(**CONFIG).eval()
    x = torch.randn(3, 2, 16, 16)
    channels = torch.tensor([2, 1, 2])
    with torch.no_grad():
        feats = BlockFeatures(enc).features(x, channels)
        tokens, valid = enc(x, channels)
    assert feats.shape == (3, 2 * 32)
    # the last block's pooled output is the encoder's features before its final norm
    assert not torch.allclose(feats[:, 32:], enc.pool_tokens(tokens, valid))
    outs, valid = enc.forward_intermediates(x, channels, last=2)
    assert torch.allclose(feats[:, 32:], enc.pool_tokens(outs[-1], valid), atol=1e-6)


def test_checkpoint_encoders_reads_both_jepa_encoders_and_a_random_twin(tmp_path):
    context, target = _jepa_checkpoint(tmp_path / "last.ckpt")
    encs = checkpoint_encoders(tmp_path / "last.ckpt")
    assert list(encs) == ["backbone", "context", "random-init"]
    for name, ref in (("backbone", target), ("context", context)):
        assert all(torch.equal(a, b) for a, b in zip(encs[name].state_dict().values(), ref.state_dict().values(),
                                                     strict=True))
    torch.manual_seed(0)
    twin = ViTEncoder(**CONFIG)
    assert torch.equal(encs["random-init"].patch_embed.weight, twin.patch_embed.weight)


def test_main_prints_one_column_per_task_and_writes_the_section(tmp_path, capsys):
    _jepa_checkpoint(tmp_path / "last.ckpt")
    out = tmp_path / "notes.md"
    assert main([str(tmp_path / "last.ckpt"), "--tasks", "los", "--n", "60", "--seeds", "0",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| encoder | los: block 1 / 2 |" in text
    assert {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")} >= {
        "backbone", "context", "random-init"}
    written = out.read_text()
    assert "## Per-block probes" in written and "Produced by: `wfm-probe-layers " in written


def test_a_missing_checkpoint_is_one_line_of_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "wfm.probe_layers", str(tmp_path / "nope.ckpt"), "--tasks", "los"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "nope.ckpt" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("module", ["wfm.probe_layers", "wfm.seeds"])
def test_help(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: wfm-" in out.stdout
