"""``compile=True``: the networks are torch.compile'd in place (dynamic shapes) and give the eager loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import structured_sample
from tiny import tiny_jepa

from wfm.data.collate import pad_collate


@pytest.mark.slow
def test_compiled_and_eager_give_the_same_loss_with_varying_token_counts() -> None:
    g = torch.Generator().manual_seed(0)
    batches = [pad_collate([{"x": structured_sample(g, c, 32), "channels": c} for c in counts])
               for counts in ([1, 2, 3, 1], [3, 3, 2, 2, 1, 1])]  # different channel counts: different tokens
    torch.manual_seed(0)
    eager = tiny_jepa()
    torch.manual_seed(0)
    compiled = tiny_jepa(compile=True)
    compiled.configure_model()
    assert compiled.encoder.state_dict().keys() == eager.encoder.state_dict().keys()  # compiled in place
    for step, batch in enumerate(batches * 2):
        a = eager.shared_step(batch, np.random.default_rng(step), "train")["loss"]
        b = compiled.shared_step(batch, np.random.default_rng(step), "train")["loss"]
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
