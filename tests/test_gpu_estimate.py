"""gpu_estimate: closed-form counts of a tiny known step, the roofline and memory formulas, the notebook inventory."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from sdgan_course.course import NOTEBOOKS
from sdgan_course.gpu_estimate import DeviceSpec, StepCounts, count_step, estimate_memory_bytes, estimate_step_seconds

ROOT = Path(__file__).resolve().parent.parent


def linear_step(batch=5, optimizer="sgd"):
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1) if optimizer == "sgd" else torch.optim.Adam(layer.parameters())
    x = torch.randn(batch, 4)

    def step():
        opt.zero_grad(set_to_none=True)
        layer(x).sum().backward()
        opt.step()
    return step, layer, opt


@pytest.mark.parametrize("batch", [1, 5, 32])
def test_linear_flops_and_saved_bytes_are_closed_forms(batch):
    step, layer, opt = linear_step(batch)
    c = count_step(step, modules=[layer], optimizers=[opt])
    # forward addmm 2*B*4*3; backward: only the weight gradient (x needs none), another 2*B*4*3
    assert c.flops == 2 * (2 * batch * 4 * 3)
    assert c.saved_bytes == batch * 4 * 4  # Linear saves its input (float32); the weight is state, not activation
    assert c.state_bytes == 2 * (4 * 3 + 3) * 4  # parameters + gradients; SGD without momentum keeps no state
    assert c.kernels == len(c.op_flops) == len(c.op_bytes) and sum(c.op_bytes) == c.bytes_moved
    assert c.max_op_bytes == max(c.op_bytes) and c.views > 0


def test_adam_state_and_repeatable_counts():
    step, layer, opt = linear_step(5, "adam")
    step()  # the first step creates exp_avg and exp_avg_sq
    a = count_step(step, modules=[layer], optimizers=[opt])
    b = count_step(step, modules=[layer], optimizers=[opt])
    assert a.state_bytes == 4 * (4 * 3 + 3) * 4  # parameters, gradients, two moments
    assert a.summary() == b.summary()


def test_bytes_of_one_known_operation():
    x, y = torch.ones(10), torch.ones(10)
    c = count_step(lambda: torch.add(x, y))
    assert (c.kernels, c.flops, c.bytes_moved, c.saved_bytes) == (1, 0, 3 * 10 * 4, 0)


SPEC = DeviceSpec("test", matmul_flops=1e9, bandwidth=1e8, launch_s=1e-5, view_s=1e-6, memory_bytes=1e9)


def test_roofline_on_hand_made_counts():
    per_op = StepCounts(flops=3_000_000, kernels=2, views=4, bytes_moved=300_000, saved_bytes=0, state_bytes=0,
                        max_op_bytes=200_000, op_flops=(3_000_000, 0), op_bytes=(100_000, 200_000))
    e = estimate_step_seconds(per_op, SPEC)
    compute = 3e6 / 1e9 + 2e5 / 1e8  # op 1 bound by FLOPs (3 ms > 1 ms), op 2 by bytes (2 ms)
    assert e.compute_s == pytest.approx(compute) and e.launch_s == pytest.approx(2e-5 + 4e-6)
    assert e.seconds == pytest.approx(compute + 2.4e-5) and e.overlapped_s == pytest.approx(compute)
    totals = per_op._replace(op_flops=(), op_bytes=())  # totals only: max(F / rate, B / bandwidth)
    assert estimate_step_seconds(totals, SPEC).compute_s == pytest.approx(max(3e-3, 3e-3))


def test_memory_is_the_exact_sum():
    c = StepCounts(flops=0, kernels=0, views=0, bytes_moved=0, saved_bytes=1000, state_bytes=200, max_op_bytes=30)
    assert estimate_memory_bytes(c, context_bytes=4, resident_bytes=5) == 1000 + 200 + 30 + 4 + 5
    assert estimate_memory_bytes(c, context_bytes=0) == 1230


def load_tool():
    spec = importlib.util.spec_from_file_location("estimate_t4", ROOT / "tools" / "estimate_t4.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inventory_covers_every_notebook_and_names_known_workloads():
    tool = load_tool()
    covered = {row[0] for row in tool.INVENTORY}
    assert covered == {nb.stem[:2] for nb in NOTEBOOKS}  # every notebook has a row, even "none"
    for _, workload, batch, calls, where, _ in tool.INVENTORY:
        assert where in ("t4", "cpu")
        name = workload.partition(":")[0].partition("@")[0]
        assert name in tool.TRAIN_STEPS or name in ("wall", "toy", "none") or name.startswith("fwd"), workload
        assert calls >= 0 and batch >= 0
    assert set(tool.GPU_BATCH) == set(tool.TRAIN_STEPS) == set(tool.CPU_CHECK_BATCH)
