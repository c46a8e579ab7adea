"""The flow family (train/flow.py): one run class on the latent family's data and loop, the flow-matching loss, resume,
export and load, sampling through the latent pipeline with the flow samplers, and its errors."""

import pytest
import torch

from sdgan_course.checkpoint import CheckpointError
from sdgan_course.losses.flow import flow_matching_loss
from sdgan_course.models.ldm import LatentDiffusion
from sdgan_course.models.transformer import MMDiT
from sdgan_course.sample.ldm import generate_ldm
from sdgan_course.schedules import FlowSchedule
from sdgan_course.train.diffusion import diffusion_train_step
from sdgan_course.train.flow import FlowRun, FlowTrainConfig, load_flow, mmdit_config
from sdgan_course.train.ldm import export_ldm, load_ldm, prepare_ldm_data, train_ldm


def tiny_images(n=60):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.arange(n) % 10


def test_the_loss_is_the_velocity_regression_written_out():
    class Affine(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, x, t, context=None):
            return self.w * x + t.view(-1, 1, 1, 1) + context

    model, f = Affine(), FlowSchedule()
    x0, eps = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    t, ctx = torch.tensor([0.1, 0.5, 0.7, 0.9]), torch.randn(4, 1, 2, 2)
    loss = flow_matching_loss(model, x0, f, t=t, eps=eps, context=ctx)
    xt = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * eps
    expected = ((0.5 * xt + t.view(-1, 1, 1, 1) + ctx - (eps - x0)) ** 2).mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert model.w.grad is not None and model.w.grad.abs() > 0
    a = flow_matching_loss(model, x0, f, rng=torch.Generator().manual_seed(2), context=ctx)
    b = flow_matching_loss(model, x0, f, rng=torch.Generator().manual_seed(2), context=ctx)
    assert torch.equal(a, b)


def test_the_shared_train_step_takes_the_flow_loss_for_a_flow_prediction(tiny_ldm_run):
    run = tiny_ldm_run("flow")
    assert isinstance(run.model, MMDiT) and isinstance(run.schedule, FlowSchedule)
    x0 = torch.randn(4, 4, 7, 7)
    ctx, mask = torch.randn(4, 16, run.unet_config.context_dim), torch.ones(4, 16, dtype=torch.bool)
    rng_state = torch.Generator().manual_seed(5).get_state()
    stats = diffusion_train_step(run.model, run.opt, x0, run.schedule, context=ctx, context_mask=mask,
                                 prediction="flow", rng=torch.Generator().set_state(rng_state))
    # at init the network outputs zeros (adaLN-Zero), so the first loss is E||eps - x0||^2 for the same draws
    g = torch.Generator().set_state(rng_state)
    t = FlowSchedule().draw_t(4, rng=g)
    eps = torch.randn(x0.shape, generator=g)
    assert t.shape == (4,)
    assert stats["loss"] == pytest.approx(((eps - x0) ** 2).mean().item(), rel=1e-5)


def test_training_resume_export_load_and_sampling(tmp_path, tiny_ldm_run):
    images, labels = tiny_images()
    straight = tiny_ldm_run("flow")
    train_ldm(straight, prepare_ldm_data(straight, images, labels), steps=6, progress=False)
    assert len(straight.history["loss"]) > 0
    first = tiny_ldm_run("flow")
    train_ldm(first, prepare_ldm_data(first, images, labels), steps=3, progress=False)
    first.save(tmp_path / "c.pt")
    resumed = FlowRun.load(tmp_path / "c.pt")
    assert resumed.step == 3 and isinstance(resumed.model, MMDiT)
    train_ldm(resumed, prepare_ldm_data(resumed, images, labels), steps=6, progress=False)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)

    path = export_ldm(straight, tmp_path / "flow.pt", note="test")
    flow = load_flow(path)
    assert isinstance(flow, LatentDiffusion) and flow.prediction == "flow" and flow.info["note"] == "test"
    assert isinstance(flow.unet, MMDiT) and isinstance(flow.schedule, FlowSchedule)
    with pytest.raises(CheckpointError, match="'flow' checkpoint, but a 'ldm' checkpoint was expected"):
        load_ldm(path)
    for sampler, steps in (("euler", 3), ("heun", 2)):
        a, b = (generate_ldm(flow, "a photo of a bag", 2, sampler=sampler, steps=steps,
                             rng=torch.Generator().manual_seed(0)) for _ in range(2))
        assert a.shape == (2, 1, 28, 28) and torch.equal(a, b) and a.abs().max() <= 1
    wide = generate_ldm(flow, "a bag to the left of a coat", 1, sampler="euler", steps=2)
    assert wide.shape == (1, 1, 28, 56)
    edited = generate_ldm(flow, "a bag", 2, sampler="euler", steps=4, init_images=a[:1], strength=0.5)
    assert edited.shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="for a flow model. Valid: euler, heun"):
        generate_ldm(flow, "a bag", 1, sampler="dpm-solver")


def test_image_to_image_starts_from_the_noised_input_at_the_time_strength_points_at(tiny_ldm_run):
    """Strength s with S steps skips S - int(S s) steps: the start is (1 - t) z0 + t eps at that time."""
    run = tiny_ldm_run("flow")
    flow = LatentDiffusion(run.ema.model, run.text_encoder, run.tokenizer, run.autoencoder, run.schedule,
                           prediction="flow")
    seen = []
    original = flow.unet.forward
    flow.unet.forward = lambda x, t, **kw: (seen.append(t.clone()), original(x, t, **kw))[1]
    init = torch.zeros(1, 1, 28, 28)
    generate_ldm(flow, "a bag", 1, sampler="euler", steps=10, init_images=init, strength=0.3, guidance=1.0)
    assert len(seen) == 3 and seen[0].item() == pytest.approx(0.3)  # times 0.3, 0.2, 0.1


def test_the_config_is_the_latent_config_with_the_flow_target():
    cfg = FlowTrainConfig.preset("cpu")
    assert cfg.prediction == "flow" and cfg.pair_every == 3 and cfg.p_uncond == 0.1
    assert cfg.make_schedule() == FlowSchedule("logit_normal", 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="Unknown prediction type 'eps': use 'flow'"):
        FlowTrainConfig(prediction="eps")
    with pytest.raises(ValueError, match="Unknown t_sampling"):
        FlowTrainConfig(t_sampling="beta").make_schedule()


def test_flow_presets_keep_the_contract(check_preset):
    check_preset(FlowTrainConfig.preset, "FlowTrainConfig.preset", steps=3, pair_batch_size=2, num_pairs=5)
    nets = check_preset(lambda p, **kw: mmdit_config(p, 12, 3, **kw), "mmdit_config", width=16, num_heads=2)
    assert all((n.in_channels, n.context_dim) == (3, 12) for n in nets.values())
