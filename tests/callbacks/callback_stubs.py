"""Stand-ins shared by the callback tests: a wfm-like method, a collapsed backbone, the trainer limits.

Importable as ``from callback_stubs import ...`` from the tests of this folder (pytest's prepend import mode
puts a test module's folder on ``sys.path``).
"""

from __future__ import annotations

import torch
from helpers import PROBE_ENCODER_CFG
from lightning.pytorch import LightningModule
from torch import nn

from wfm.models.encoder import ViTEncoder

# The callback tests' trainer limits: one training batch per epoch, 2 validation batches, no sanity check.
LIMITS = dict(limit_train_batches=1, limit_val_batches=2, num_sanity_val_steps=0)


class ConstantBackbone(nn.Module):
    """A collapsed encoder: the same feature for every input."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.ones(32))

    def features(self, x, channels=None, modality=None):
        return self.bias.expand(x.shape[0], -1) + 0 * x.mean()


class Method(LightningModule):
    """Stand-in for a wfm method: `.backbone`, a trivial loss, and the predict_step contract."""

    def __init__(self, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone if backbone is not None else ViTEncoder(**PROBE_ENCODER_CFG)

    def training_step(self, batch, batch_idx):
        return self.backbone.features(batch["x"], batch["channels"]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        tokens, valid = self.backbone(batch["x"], batch["channels"])
        return {
            "features": self.backbone.pool_tokens(tokens, valid),
            "tokens": tokens,
            "label": batch["label"],
        }

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)

