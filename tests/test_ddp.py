"""DDP on CPU: 2 gloo processes launched as a script (``tests/ddp_worker.py``) by Lightning's ``ddp`` strategy.

Checks what must be identical across ranks (online and EMA target weights), what must differ (data shards,
masks and channel subsets) and how the logged loss is reduced; and that 2 ranks x batch B train exactly like
1 process x batch 2B when the per-sample masks are the same.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ddp_worker import run
from tiny import IndexedDataModule

from wfm.data.collate import pad_collate
from wfm.views import RegionMask
from wfm.views.channels import sample_channels

WORKER = Path(__file__).with_name("ddp_worker.py")
B, STEPS = 4, 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Both modes on one 2-rank process group, ranks started from outside as torchrun would."""
    out = tmp_path_factory.mktemp("ddp")
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "PL_GLOBAL_SEED")}
    base.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2", NODE_RANK="0",
                OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, str(WORKER), str(out), "--devices", "2", "--batch-size", str(B), "--steps", str(STEPS),
           "--modes", "sampled,shared"]
    procs = [subprocess.Popen(cmd, env={**base, "LOCAL_RANK": str(r), "RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for r in range(2)]
    logs = [p.communicate(timeout=180)[0] for p in procs]
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-4000:]
    return {m: [torch.load(out / f"{m}-rank{r}.pt", weights_only=False) for r in range(2)]
            for m in ("sampled", "shared")}


@pytest.fixture(scope="module")
def ddp_run(runs: dict[str, list[dict]]) -> list[dict]:
    return runs["sampled"]


def test_weights_identical_on_both_ranks(ddp_run: list[dict]) -> None:
    r0, r1 = ddp_run
    assert (r0["rank"], r1["rank"], r0["world_size"]) == (0, 1, 2)
    for part in ("encoder", "target_encoder"):
        for k, v in r0[part].items():
            assert torch.equal(v, r1[part][k]), f"{part}.{k} differs between ranks"
    # the EMA really moved (otherwise equality of the target is trivial)
    moved = [not torch.equal(r0["encoder"][k], r0["target_encoder"][k]) for k in r0["encoder"]]
    assert any(moved)


def test_each_rank_reads_a_disjoint_shard(ddp_run: list[dict]) -> None:
    seen = [[i for batch in r["indices"] for i in batch] for r in ddp_run]
    assert all(len(s) == STEPS * B and len(set(s)) == len(s) for s in seen)
    assert not set(seen[0]) & set(seen[1])
    assert ddp_run[0]["steps"] == ddp_run[1]["steps"] == list(range(STEPS))


def test_masks_and_channel_draws_differ_across_ranks_and_are_reproducible(ddp_run: list[dict]) -> None:
    """The step generator is ``default_rng([seed, 0, global_step, micro_batch, rank])`` (CONTRACTS.md): ranks
    draw differently; re-deriving every rank's channel subsets and masks offline from that key and the batch
    the rank read gives exactly the recorded masks, i.e. a rerun with the same seed reproduces them."""
    r0, r1 = ddp_run
    for s in range(STEPS):
        assert not np.allclose(r0["rng_draws"][s], r1["rng_draws"][s])
    assert any(not torch.equal(a, b) for a, b in zip(r0["masks"], r1["masks"], strict=True))
    dm = IndexedDataModule(n=64, batch_size=B)  # same samples as the worker's
    masking = RegionMask(num_targets=2, min_context=4)  # tiny_jepa's
    for r in ddp_run:
        for s, (idx, mask) in enumerate(zip(r["indices"], r["masks"], strict=True)):
            rng = np.random.default_rng([0, 0, s, 0, r["rank"]])
            np.testing.assert_array_equal(rng.random(4), r["rng_draws"][s])
            rng = np.random.default_rng([0, 0, s, 0, r["rank"]])
            batch = pad_collate([dm.samples[i] for i in idx])
            sample_channels(batch["x"], batch["channels"], rng, "sample")
            assert torch.equal(masking(len(idx), (4, 4), rng).context, mask), (r["rank"], s)


def test_logged_loss_is_reduced_across_ranks(ddp_run: list[dict]) -> None:
    r0, r1 = ddp_run
    assert r0["losses"] != r1["losses"]  # ranks see different data: the local losses differ
    global_mean = float(np.mean(r0["losses"] + r1["losses"]))  # equal batch sizes: mean of all rank-steps
    for r in ddp_run:
        assert r["loss_epoch"] == pytest.approx(global_mean, rel=1e-5)
        # step values are reduced across ranks on the steps that write them (log_every_n_steps=2: steps 1 and
        # 3) — mean of the two ranks' local losses — and stay local in between (no collective on those steps)
        mean = (np.array(r0["losses"]) + np.array(r1["losses"])) / 2
        np.testing.assert_allclose(np.array(r["synced_losses"])[[1, 3]], mean[[1, 3]], rtol=1e-5)
        np.testing.assert_allclose(np.array(r["synced_losses"])[[0, 2]], np.array(r["losses"])[[0, 2]], rtol=1e-5)
    assert r0["loss_epoch"] != pytest.approx(float(np.mean(r0["losses"])), rel=1e-4)


def test_two_ranks_batch_b_equal_one_process_batch_2b(runs: dict[str, list[dict]]) -> None:
    """2 ranks x batch B and 1 process x batch 2B give the same loss curve and weights.

    Exact equivalence needs the same per-sample masks, which per-rank draws can't give; so both runs use
    ``StepMasking`` (one region mask per step from ``(seed, step)``, shared by all samples), no channel
    sampling and one channel per sample (every sample has the same number of target tokens, so the mean of
    the two ranks' per-token means equals the 2B batch's mean and DDP's averaged gradient equals the 2B
    gradient). The one-process run reads the DistributedSampler's epoch-0 order, so at every step its 2B
    samples are the union of the ranks' B. What remains is float summation order: rtol 1e-4 on the per-step
    loss (measured differences are ~1e-7) — a wrong reduction, a missing sync or a different sample set
    changes the loss by >1e-2.
    """
    ddp = runs["shared"]
    one = run("shared", devices=1, batch_size=2 * B, steps=STEPS)  # in this process
    for s in range(STEPS):
        assert sorted(ddp[0]["indices"][s] + ddp[1]["indices"][s]) == sorted(one["indices"][s])
    # the step losses DDP writes (steps 1 and 3 with log_every_n_steps=2) are the 2B batch's, and the mean of
    # the ranks' local losses is the 2B batch's at every step
    np.testing.assert_allclose(np.array(ddp[0]["synced_losses"])[[1, 3]], np.array(one["losses"])[[1, 3]], rtol=1e-4)
    rank_mean = (np.array(ddp[0]["losses"]) + np.array(ddp[1]["losses"])) / 2
    np.testing.assert_allclose(rank_mean, one["losses"], rtol=1e-4)
    for k, v in one["target_encoder"].items():
        torch.testing.assert_close(ddp[0]["target_encoder"][k], v, rtol=1e-4, atol=1e-5)
