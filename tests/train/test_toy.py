"""Toy GANs: single-layer models (models.toy), mode counting (data.toy), training and the ring GAN (train.toy)."""

import math

import pytest
import torch

from sdgan_course.data.toy import count_modes, gaussian_mixture_1d, ring_of_gaussians
from sdgan_course.models.toy import SingleLayerDiscriminator, SingleLayerGenerator, ToyDiscriminator
from sdgan_course.theory import gan as theory
from sdgan_course.train.toy import fit_discriminator, ring_preset, train_ring_gan, train_toy_gan

RING = ring_of_gaussians()


# ---------------------------------------------------------------- count_modes


def test_count_modes_on_exact_ring_samples_covers_all():
    samples = RING.sample(4000, rng=torch.Generator().manual_seed(0))
    cov = count_modes(samples, RING)
    assert cov.modes_covered == 8
    assert cov.high_quality_fraction > 0.98  # 3 std in 2-D holds 98.9 % of a Gaussian's mass
    assert cov.counts.shape == (8,) and cov.counts.sum() <= 4000
    assert abs(cov.high_quality_fraction - cov.counts.sum().item() / 4000) < 1e-12


def test_count_modes_on_constructed_samples():
    gen = torch.Generator().manual_seed(1)
    means = RING.means.float()
    # 300 points on mode 0, 200 on mode 3, 5 stray points on mode 5, 495 far away at the origin
    samples = torch.cat([
        means[0] + 0.02 * torch.randn(300, 2, generator=gen),
        means[3] + 0.02 * torch.randn(200, 2, generator=gen),
        means[5] + 0.02 * torch.randn(5, 2, generator=gen),
        0.1 * torch.randn(495, 2, generator=gen),
    ])
    cov = count_modes(samples, RING)
    assert cov.modes_covered == 2  # 5 points < 5 % of the 125 a perfect generator would put on mode 5 (6.25)
    assert cov.counts.tolist() == [300, 0, 0, 200, 0, 5, 0, 0]
    assert abs(cov.high_quality_fraction - 0.505) < 1e-9
    assert count_modes(samples, RING, min_share=0.0).modes_covered == 3  # one sample is enough
    # a wider tolerance turns near misses into hits: a point 0.2 from a mode is 4 std away
    near_miss = means[1:2] + torch.tensor([[0.2, 0.0]])
    assert count_modes(near_miss, RING, min_share=0).counts.sum() == 0
    assert count_modes(near_miss, RING, num_std=5, min_share=0).counts.tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


def test_count_modes_bad_input():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        count_modes(torch.zeros(10, 3), RING)
    with pytest.raises(ValueError, match="no samples"):
        count_modes(torch.zeros(0, 2), RING)
    with pytest.raises(ValueError, match="num_std"):
        count_modes(torch.zeros(4, 2), RING, num_std=0)


# ---------------------------------------------------------------- single-layer models


def test_single_layer_models_shapes_and_sigmoid():
    g = SingleLayerGenerator(z_dim=3, data_dim=2, activation="tanh")
    x = g(torch.randn(5, 3))
    assert x.shape == (5, 2) and x.abs().max() <= 1
    d = SingleLayerDiscriminator(data_dim=2)
    logits, probs = d(x), d.probability(x)
    assert logits.shape == (5,)
    torch.testing.assert_close(probs, torch.sigmoid(logits))
    assert SingleLayerDiscriminator(data_dim=1)(torch.randn(7)).shape == (7,)
    with pytest.raises(ValueError, match="activation"):
        SingleLayerGenerator(activation="softmax")


def test_linear_single_layer_generator_is_gaussian():
    # G(z) = W z + b with z ~ N(0, 1): N(b, W^2), a single bump whatever the weights
    torch.manual_seed(0)
    g = SingleLayerGenerator(z_dim=1, data_dim=1)
    with torch.no_grad():
        g.linear.weight.fill_(2.0)
        g.linear.bias.fill_(-1.0)
        x = g(torch.randn(100_000, 1, generator=torch.Generator().manual_seed(0))).squeeze(1)
    assert abs(x.mean().item() + 1.0) < 0.03 and abs(x.std().item() - 2.0) < 0.03
    kurtosis = (((x - x.mean()) / x.std()) ** 4).mean().item()
    assert abs(kurtosis - 3.0) < 0.1  # a Gaussian's; a two-bump mixture's is far lower


# ---------------------------------------------------------------- training


def test_trained_mlp_discriminator_approaches_the_optimal_discriminator():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    p_data = gaussian_mixture_1d(means=(-1.5, 1.5), stds=(0.5, 0.5))

    def sample_fake(n, rng=None):
        return torch.randn(n, 1, generator=rng)

    d = ToyDiscriminator(data_dim=1, hidden=(32, 32))
    losses = fit_discriminator(d, p_data.sample, sample_fake, steps=400, batch_size=256, lr=3e-3, rng=gen)
    assert losses[-1] < losses[0]
    x = torch.linspace(-2.5, 2.5, 51)
    with torch.no_grad():
        trained = torch.sigmoid(d(x[:, None])).double()
    normal = torch.exp(-0.5 * x.double() ** 2) / math.sqrt(2 * math.pi)
    closed = theory.optimal_discriminator(p_data.prob(x[:, None]), normal)
    # seeds 0-5 give a mean gap of 0.02-0.05 and a max of 0.08-0.15; a wrong formula (e.g. p_g / (p_data + p_g)) is
    # off by about 0.5
    assert (trained - closed).abs().mean() < 0.06
    assert (trained - closed).abs().max() < 0.2


def test_train_toy_gan_records_history_and_snapshots_and_moves_the_generator():
    torch.manual_seed(0)
    g, d = SingleLayerGenerator(z_dim=1, data_dim=1), SingleLayerDiscriminator(data_dim=1)
    target = gaussian_mixture_1d(means=(2.0,), stds=(0.5,))
    run = train_toy_gan(g, d, target.sample, steps=300, batch_size=128, lr=1e-2, snapshot_every=100,
                        snapshot_size=500, rng=torch.Generator().manual_seed(0))
    assert [s.step for s in run.snapshots] == [0, 100, 200, 300]
    assert all(s.samples.shape == (500, 1) for s in run.snapshots)
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"} <= set(run.history)
    assert all(len(v) == 300 for v in run.history.values())
    # the single-layer generator moves its one Gaussian towards the data mean 2.0
    assert abs(run.snapshots[-1].samples.mean().item() - 2.0) < abs(run.snapshots[0].samples.mean().item() - 2.0)
    assert abs(run.snapshots[-1].samples.mean().item() - 2.0) < 0.5
    with pytest.raises(ValueError, match="steps"):
        train_toy_gan(g, d, target.sample, steps=0)


def test_ring_preset_contract(check_preset):
    made = check_preset(ring_preset, "ring_preset", steps=5, lr_d=1e-4)
    assert [made[p]["steps"] for p in ("ci", "cpu", "gpu")] == [500, 2000, 3000]
    assert ring_preset("ci") is not ring_preset("ci")  # a fresh dict each call: callers may change it


@pytest.mark.parametrize("seed", [0, 1])
def test_ring_gan_covers_at_least_6_of_8_modes_in_the_ci_budget(seed):
    result = train_ring_gan(**ring_preset("ci"), loss="ns", seed=seed)
    assert result.coverage.modes_covered >= 6, (result.coverage, result.coverage_over_time)
    assert result.coverage.high_quality_fraction > 0.25
    assert result.coverage_over_time[0] == 0  # the untrained generator covers nothing: the count is not trivially 8


def test_toy_training_runs_on_the_shared_loop_and_its_divergence_guard():
    from sdgan_course.train.loop import DivergenceError

    torch.manual_seed(0)
    g, d = SingleLayerGenerator(), SingleLayerDiscriminator()
    with pytest.raises(DivergenceError, match="diverged at step"):
        train_toy_gan(g, d, lambda n, rng=None: torch.full((n, 1), float("nan")), steps=3, batch_size=8)
    with pytest.raises(DivergenceError, match="diverged"):
        nan, zeros = (lambda n, rng=None: torch.full((n, 1), float("nan"))), (lambda n, rng=None: torch.zeros(n, 1))
        fit_discriminator(d, nan, zeros, steps=2, batch_size=4)
