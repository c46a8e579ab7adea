import math

import pytest
import torch

from sdgan_course.sample import gan as selection


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# A toy where the density ratio is known: p_g = N(0, 2^2), p_data = N(0, 1).
# The optimal discriminator's logit is log p_data(x) - log p_g(x) = log 2 - 3 x^2 / 8, whose maximum is log 2,
# so exact rejection sampling accepts with probability 1/M = 1/2 and returns N(0, 1) samples.
def toy_generator(n, rng):
    return 2.0 * torch.randn(n, generator=rng)


def toy_logit(x):
    return math.log(2.0) - 3.0 * x**2 / 8.0


def test_drs_probability_is_exact_rejection_sampling_when_gamma_and_eps_are_zero():
    logits = torch.tensor([-3.0, -1.0, 0.0, 0.5])
    p = selection.drs_acceptance_probability(logits, 0.5, eps=0.0, gamma=0.0)
    assert torch.allclose(p, torch.exp(logits - 0.5), atol=1e-6)
    assert p[-1] == pytest.approx(1.0)


def test_drs_gamma_moves_the_acceptance_probability_the_right_way():
    logits = torch.linspace(-4, 0, 9)
    base = selection.drs_acceptance_probability(logits, 0.0)
    strict = selection.drs_acceptance_probability(logits, 0.0, gamma=2.0)
    lax = selection.drs_acceptance_probability(logits, 0.0, gamma=-2.0)
    assert (strict < base).all() and (lax > base).all()
    assert (base[1:] >= base[:-1]).all()  # a more believable sample is never less likely to be kept
    with pytest.raises(ValueError, match="logit_max"):
        selection.drs_acceptance_probability(torch.tensor([1.0]), 0.0)


def test_drs_accepts_at_the_right_rate_and_recovers_the_data_distribution():
    res = selection.discriminator_rejection_sampling(
        toy_generator, toy_logit, 4000, batch_size=500, burn_in=20000, eps=1e-8, rng=_gen(1)
    )
    assert res.samples.shape == (4000,) and res.logits.shape == (4000,)
    assert res.logit_max == pytest.approx(math.log(2.0), abs=1e-3)
    assert res.acceptance_rate == pytest.approx(0.5, abs=0.025)  # 1/M
    assert res.samples.std().item() == pytest.approx(1.0, abs=0.05)  # p_data, not p_g (std 2)
    assert res.samples.mean().item() == pytest.approx(0.0, abs=0.05)


def test_drs_gamma_quantile_and_give_up():
    # gamma_quantile=q: the burn-in candidate at quantile q of F gets acceptance 1/2, so about a fraction 1 - q of
    # candidates is accepted with probability above 1/2
    def run(q):
        return selection.discriminator_rejection_sampling(
            toy_generator, toy_logit, 1000, batch_size=500, burn_in=4000, gamma_quantile=q, rng=_gen(2)
        )

    lax, strict = run(0.2), run(0.8)
    assert lax.gamma < 0 < strict.gamma
    assert lax.acceptance_rate > 0.5 > strict.acceptance_rate
    p = selection.drs_acceptance_probability(lax.all_logits, lax.logit_max, gamma=lax.gamma)
    assert (p > 0.5).double().mean().item() == pytest.approx(0.8, abs=0.03)
    with pytest.raises(RuntimeError, match="Lower gamma"):
        selection.discriminator_rejection_sampling(
            toy_generator, toy_logit, 100, batch_size=100, burn_in=200, gamma=60.0, max_proposals=1000,
            rng=_gen(3),
        )


def test_best_of_n_keeps_each_groups_maximum_and_carries_extra_outputs():
    def gen_fn(n, rng):
        x = torch.randn(n, generator=rng)
        return x, -3 * x  # an extra output (e.g. labels or z) must follow the chosen rows

    res = selection.best_of_n(gen_fn, lambda x, extra: x, 1000, n=8, batch_size=256, rng=_gen(4))
    x, extra = res.samples
    assert x.shape == (1000,) and torch.equal(x, res.logits) and res.acceptance_rate == 1 / 8
    assert torch.equal(extra, -3 * x)
    assert res.num_proposed == 8000 and len(res.all_logits) == 8000
    assert x.mean().item() == pytest.approx(1.4236, abs=0.05)  # E[max of 8 standard normals]
    groups = res.all_logits[:8 * (256 // 8)].view(-1, 8)  # the first batch: 32 groups of 8
    assert torch.equal(res.logits[:32], groups.max(1).values)
    with pytest.raises(ValueError, match="logits of shape"):
        selection.best_of_n(lambda n, g: torch.randn(n, 2), lambda x: x, 4, n=2)


def test_lerp_and_slerp_end_points_and_norms():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = selection.slerp(z0, z1, 0.5)
    assert torch.allclose(mid, torch.tensor([1.0, 1.0]) / math.sqrt(2))
    assert torch.allclose(selection.lerp(z0, z1, 0.5), torch.tensor([0.5, 0.5]))
    path = selection.interpolate(z0, z1, 5, method="slerp")
    assert path.shape == (5, 2) and torch.allclose(path[0], z0) and torch.allclose(path[-1], z1)
    assert torch.allclose(path.norm(dim=1), torch.ones(5), atol=1e-6)  # stays on the circle
    assert torch.allclose(selection.slerp(z0, z0 * 2, 0.5), z0 * 1.5)  # parallel: falls back to lerp
    with pytest.raises(ValueError, match="slerp"):
        selection.interpolate(z0, z1, 5, method="cubic")


def test_lerp_midpoint_of_gaussian_latents_is_too_short_and_slerp_is_not():
    g = _gen(5)
    z0, z1 = torch.randn(256, 128, generator=g), torch.randn(256, 128, generator=g)
    lin = selection.lerp(z0, z1, 0.5).norm(dim=1).mean().item()
    sph = selection.slerp(z0, z1, 0.5).norm(dim=1).mean().item()
    assert lin == pytest.approx(math.sqrt(64), rel=0.05) and sph == pytest.approx(math.sqrt(128), rel=0.05)
    batch = selection.interpolate(z0[:3], z1[:3], 4)
    assert batch.shape == (4, 3, 128)
