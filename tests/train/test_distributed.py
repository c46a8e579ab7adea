"""DistributedDataParallel on the CPU: two gloo processes against one, a killed run resumed, one process untouched.

Tolerance: two processes that share a global batch of 16 take the step one process takes on the whole batch, up to
float32 rounding (the gradient is a sum split in two halves, then averaged by the all-reduce). After 4 Adam steps the
weights (magnitudes up to about 4) agree within 1e-6 absolute; a wrong shard or an unsynchronised gradient moves them
by about the learning rate (2e-4 to 4e-4) per step, a hundred times more.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist

from sdgan_course import distributed
from sdgan_course.cli.main import main
from sdgan_course.data.batches import StepBatches
from sdgan_course.train.ddp_demo import tiny_run
from sdgan_course.train.loop import DivergenceError, Run, train_loop

ATOL = 1e-6


def _close(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@pytest.mark.parametrize("family", ["gan", "ddpm"])
def test_two_processes_take_the_step_of_one_process_with_the_same_global_batch(family):
    one = tiny_run(family, 4, batch_size=16)
    two = distributed.run_processes(tiny_run, 2, family, 4)  # each rank: batch 16 // 2 = 8
    assert [r["world_size"] for r in two] == [2, 2] and one["world_size"] == 1
    for name, weights in one["weights"].items():
        assert torch.equal(two[0]["weights"][name], two[1]["weights"][name]), "DDP ranks drifted apart"
        assert _close(weights, two[0]["weights"][name]) < ATOL, name
        assert _close(weights, tiny_run(family, 0)["weights"][name]) > 100 * ATOL, "the steps changed nothing"
    assert _close(one["ema"], two[0]["ema"]) < ATOL
    for key, values in one["history"].items():  # the logged statistics are the global batch's
        np.testing.assert_allclose(two[0]["history"][key], values, rtol=1e-5, atol=1e-6, err_msg=key)
    assert not dist.is_initialized(), "the parent process must not have joined a process group"


def test_a_killed_two_process_run_resumes_in_one_process(tmp_path):
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Exception, match="exit|17"):  # rank 0 dies after step 5; the checkpoint of step 4 remains
        distributed.run_processes(_crashing_gan, 2, str(path))
    assert path.exists()
    resumed = tiny_run("gan", 8, checkpoint=path)  # another world size: 1 process, the same global batch
    straight = tiny_run("gan", 8)
    assert resumed["step"] == 8
    for name, weights in straight["weights"].items():
        assert _close(weights, resumed["weights"][name]) < ATOL, name
    np.testing.assert_allclose(resumed["history"]["loss_d"], straight["history"]["loss_d"], rtol=1e-5)


def _crashing_gan(path: str) -> dict:
    return tiny_run("gan", 8, checkpoint=path, checkpoint_every=2, crash_at=5)


def _diverging_rank_1() -> dict:
    """Rank 1 alone sees a NaN loss at step 3: every rank must stop there, none may wait forever."""
    def step_fn(step):
        bad = distributed.rank() == 1 and step == 3
        return {"loss": math.nan if bad else 1.0}

    try:
        train_loop(Run(), step_fn, steps=10, batch_size=2, progress=False)
    except DivergenceError as err:
        return {"stopped_at": str(err)}
    return {"stopped_at": None}


def test_the_divergence_guard_stops_every_rank():
    results = distributed.run_processes(_diverging_rank_1, 2)
    assert all(r["stopped_at"] is not None and "step 3" in r["stopped_at"] for r in results), results


def test_step_batches_shard_the_global_batch():
    x = torch.arange(40.0)
    whole = StepBatches(x, batch_size=8, seed=3, rank=0, world_size=1)
    shards = [StepBatches(x, batch_size=8, seed=3, rank=r, world_size=2) for r in range(2)]
    for step in (0, 4, 7):  # 7: the second epoch
        parts = [s.batch(step)[0] for s in shards]
        assert [len(p) for p in parts] == [4, 4]
        assert torch.equal(torch.cat(parts), whole.batch(step)[0])
    with pytest.raises(ValueError, match="split evenly"):
        StepBatches(x, batch_size=9, rank=0, world_size=2)


def test_without_torchrun_nothing_changes(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_by_torchrun()
    info = distributed.init_distributed("cpu")
    assert (info.rank, info.world_size) == (0, 1) and not dist.is_initialized()
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_ddp(model) is model and distributed.unwrap(model) is model
    x = torch.randn(6, 3)
    assert distributed.local_part(x) is x and distributed.global_shape(x.shape) == (6, 3)
    assert distributed.is_main() and distributed.check_global_batch(6) == 6
    assert distributed.all_mean(torch.ones(2)).tolist() == [1.0, 1.0]
    x = torch.arange(10.0)
    assert torch.equal(StepBatches(x, batch_size=4, seed=1).batch(3)[0],
                       StepBatches(x, batch_size=4, seed=1, rank=0, world_size=1).batch(3)[0])


def test_torchrun_trains_a_gan_that_sample_gan_reads(tmp_path):
    """The issue's command, shortened to 4 steps: two gloo processes, rank 0 writes, `sample gan` reads it."""
    out = tmp_path / "gan"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "sdgan_course", "train", "gan", "--profile", "ci", "--steps", "4", "--batch-size", "8", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Done: step 4") == 1, done.stdout  # rank 1 prints nothing
    assert "2 processes (gloo), global batch 8 = 2 x 4" in done.stdout
    samples = tmp_path / "s.npz"
    assert main(["sample", "gan", "--checkpoint", str(out / "checkpoint.pt"), "--n", "4", "--out", str(samples)]) == 0
    assert np.load(samples)["images"].shape == (4, 28, 28)
