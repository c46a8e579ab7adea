"""The VAEs and their losses: shapes on several canvases, the Gaussian KL against Monte Carlo, the ELBO and its
units, the adaptive adversarial weight against a hand computation, and bad input."""

import math

import pytest
import torch

from sdgan_course.losses.vae import (
    ClassifierPerceptualLoss,
    adaptive_weight,
    autoencoder_loss,
    bernoulli_nll,
    binarize,
    bits_per_dim,
    gaussian_kl,
    gaussian_nll,
    kl_monte_carlo,
    patch_discriminator_loss,
    vae_loss,
)
from sdgan_course.models.classifier import ClassifierConfig, CourseClassifier
from sdgan_course.models.gan import DCGANDiscriminator
from sdgan_course.models.vae import (
    VAE,
    AutoencoderConfig,
    DiagonalGaussian,
    KLAutoencoder,
    VAEConfig,
    latent_scale_factor,
    reparameterize,
)


def tiny_ae(**kw):
    torch.manual_seed(0)
    return KLAutoencoder(config=AutoencoderConfig.preset("ci", **kw))


@pytest.mark.parametrize("size", [(28, 28), (56, 56), (28, 84), (32, 32)])
def test_autoencoder_shapes_on_several_canvases(size):
    ae = tiny_ae()
    x = torch.rand(2, 1, *size) * 2 - 1
    post = ae.encode(x)
    assert post.mean.shape == post.logvar.shape == (2, 4, size[0] // 4, size[1] // 4)
    assert ae.decode(post.mean).shape == x.shape
    x_hat, _ = ae(x, rng=torch.Generator().manual_seed(0))
    assert x_hat.shape == x.shape


def test_autoencoder_factor_and_latent_channels_follow_the_config():
    ae = tiny_ae(channel_mult=(1, 2), latent_channels=3, channels=3)
    assert ae.config.factor == 2
    assert ae.encode(torch.zeros(1, 3, 28, 28)).mean.shape == (1, 3, 14, 14)


def test_autoencoder_rejects_wrong_channels_and_sizes():
    ae = tiny_ae()
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        ae.encode(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="divisible by 4"):
        ae.encode(torch.zeros(2, 1, 30, 28))
    with pytest.raises(ValueError, match="latents"):
        ae.decode(torch.zeros(2, 1, 7, 7))
    with pytest.raises(ValueError, match="Unknown profile"):
        AutoencoderConfig.preset("laptop")
    with pytest.raises(ValueError, match="scale_factor"):
        AutoencoderConfig(scale_factor=0.0)


@pytest.mark.parametrize("cls, overrides", [
    (VAEConfig, dict(hidden=(32,), latent_dim=16)),
    (AutoencoderConfig, dict(base_channels=4, num_res_blocks=3)),
])
def test_vae_presets_keep_the_contract(check_preset, cls, overrides):
    check_preset(cls.preset, f"{cls.__name__}.preset", **overrides)


def test_scaled_latents_round_trip_and_scale_factor_gives_unit_std():
    ae = tiny_ae()
    x = torch.rand(64, 1, 28, 28) * 2 - 1
    s = latent_scale_factor(ae, x, rng=torch.Generator().manual_seed(0))
    ae.config = ae.config.replace(scale_factor=s)
    z = ae.encode_scaled(x, rng=torch.Generator().manual_seed(0))
    assert abs(float(z.detach().std()) - 1.0) < 1e-3  # the same draw as latent_scale_factor's
    assert torch.allclose(ae.decode_scaled(z), ae.decode(z / s))


def test_mlp_vae_shapes_and_bad_input():
    torch.manual_seed(0)
    vae = VAE(config=VAEConfig.preset("ci", latent_dim=2))
    out = vae(torch.zeros(5, 1, 28, 28), rng=torch.Generator().manual_seed(0))
    assert out.logits.shape == (5, 1, 28, 28) and out.z.shape == (5, 2)
    assert out.posterior.mean.shape == out.posterior.logvar.shape == (5, 2)
    with pytest.raises(ValueError, match="takes images"):
        vae(torch.zeros(5, 1, 32, 32))


def test_reparameterisation_has_the_posterior_moments_and_is_seeded():
    mu, logvar = torch.tensor([[1.0, -2.0]]).expand(20000, 2), torch.tensor([[0.0, math.log(0.25)]]).expand(20000, 2)
    z = reparameterize(mu, logvar, rng=torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.03)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 0.5]), atol=0.02)
    again = reparameterize(mu, logvar, rng=torch.Generator().manual_seed(0))
    assert torch.equal(z, again)


def test_gaussian_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g) * 0.5
    closed = gaussian_kl(mu, logvar)
    mc = kl_monte_carlo(mu, logvar, num_samples=20000, rng=torch.Generator().manual_seed(1))
    assert closed.shape == mc.shape == (4,)
    # standard error of the estimator is ~ sqrt(Var / S); a few times that, relative to KLs of order 1-5
    assert torch.allclose(mc, closed, atol=0.06, rtol=0.02), (mc, closed)
    assert gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)).abs().max() == 0  # q = p


def test_gaussian_kl_one_dimension_by_hand():
    # KL(N(1, e^1) || N(0, 1)) = 0.5 (1 + e - 1 - 1)
    assert float(gaussian_kl(torch.tensor([[1.0]]), torch.tensor([[1.0]]))) == pytest.approx(0.5 * (math.e - 1))
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))


def test_likelihoods_and_bits_per_dim():
    x01 = torch.tensor([[1.0, 0.0, 1.0]])
    logits = torch.tensor([[0.0, 0.0, 0.0]])
    assert float(bernoulli_nll(logits, x01)) == pytest.approx(3 * math.log(2))  # p = 1/2 everywhere
    assert float(bits_per_dim(bernoulli_nll(logits, x01), 3)) == pytest.approx(1.0)  # one bit per pixel
    # a Gaussian at its mean: D (log sigma + 0.5 log 2 pi)
    assert float(gaussian_nll(x01, x01, sigma=0.1)) == pytest.approx(3 * (math.log(0.1) + 0.5 * math.log(2 * math.pi)))
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


def test_binarize_threshold_and_stochastic():
    x = torch.tensor([-1.0, -0.1, 0.1, 1.0])
    assert binarize(x).tolist() == [0.0, 0.0, 1.0, 1.0]
    many = binarize(torch.full((20000,), 0.5), rng=torch.Generator().manual_seed(0))  # intensity 0.75
    assert abs(float(many.mean()) - 0.75) < 0.01


def test_vae_loss_is_the_negative_elbo_with_beta():
    torch.manual_seed(0)
    vae = VAE(config=VAEConfig.preset("ci", latent_dim=4))
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        t1 = vae_loss(vae, x, beta=1.0, rng=torch.Generator().manual_seed(0))
        t4 = vae_loss(vae, x, beta=4.0, rng=torch.Generator().manual_seed(0))
    assert float(t1.loss) == pytest.approx(-float(t1.elbo), rel=1e-6)
    assert float(t4.loss) == pytest.approx(float(t4.reconstruction + 4 * t4.kl), rel=1e-6)
    assert float(t4.elbo) == pytest.approx(float(t1.elbo), rel=1e-6)  # the bound does not depend on beta
    g = vae_loss(vae, x, likelihood="gaussian", rng=torch.Generator().manual_seed(0))
    assert math.isfinite(float(g.loss.detach()))
    with pytest.raises(ValueError, match="likelihood"):
        vae_loss(vae, x, likelihood="poisson")


def test_adaptive_weight_matches_a_hand_computation():
    w = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    a, b = torch.tensor([[3.0, 0.0], [0.0, 4.0]]), torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    rec = (w * a).sum()  # d rec / dw = a, norm 5
    gan = (w * b).sum() ** 2 / 2  # d gan / dw = (w.b) b = 2.5 b, norm 2.5
    lam = adaptive_weight(rec, gan, w)
    assert float(lam) == pytest.approx(5.0 / (2.5 + 1e-4))
    assert not lam.requires_grad
    assert float(adaptive_weight(rec, gan * 1e-9, w)) == pytest.approx(1e4)  # clamped


def test_adaptive_weight_in_the_autoencoder_loss_equals_the_gradient_ratio():
    ae = tiny_ae()
    d = DCGANDiscriminator(base_channels=4, image_size=28, patch=True)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    x_hat, post = ae(x, rng=torch.Generator().manual_seed(0))
    terms = autoencoder_loss(x, x_hat, post, perceptual=None, discriminator=d, last_layer=ae.last_layer,
                             adversarial=True, disc_weight=0.5)
    g_rec = torch.autograd.grad(terms.rec, ae.last_layer, retain_graph=True)[0]
    g_gan = torch.autograd.grad(terms.gan, ae.last_layer, retain_graph=True)[0]
    expected = 0.5 * min(float(g_rec.norm() / (g_gan.norm() + 1e-4)), 1e4)
    assert float(terms.adaptive_weight) == pytest.approx(expected, rel=1e-5)
    assert terms.loss.item() == pytest.approx((terms.rec + 1e-6 * terms.kl + terms.adaptive_weight * terms.gan).item(),
                                              rel=1e-5)
    # the reconstruction term is the per-image sum of |x - x_hat|, averaged over the batch
    assert terms.rec.item() == pytest.approx((x - x_hat).abs().flatten(1).sum(1).mean().item(), rel=1e-5)
    off = autoencoder_loss(x, x_hat, post, perceptual=None, discriminator=None, last_layer=None, adversarial=False)
    assert float(off.gan) == 0 and float(off.adaptive_weight) == 0
    with pytest.raises(ValueError, match="discriminator"):
        autoencoder_loss(x, x_hat, post, perceptual=None, discriminator=None, last_layer=None, adversarial=True)


def test_patch_discriminator_loss_is_half_the_hinge_and_detaches():
    d = DCGANDiscriminator(base_channels=4, image_size=28, patch=True)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    x_hat = (torch.rand(3, 1, 28, 28) * 2 - 1).requires_grad_(True)
    loss = patch_discriminator_loss(d, x, x_hat)
    r, f = d(x), d(x_hat)
    assert float(loss) == pytest.approx(0.5 * float(torch.relu(1 - r).mean() + torch.relu(1 + f).mean()), rel=1e-5)
    loss.backward()
    assert x_hat.grad is None  # the reconstructions are detached


def test_perceptual_distance_is_zero_on_equal_images_positive_otherwise_and_frozen():
    torch.manual_seed(0)
    perc = ClassifierPerceptualLoss(CourseClassifier(config=ClassifierConfig(width=8)))
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert perc(x, x).abs().max() < 1e-6
    assert (perc(x, -x) > 0).all() and perc(x, -x).shape == (3,)
    assert perc(torch.zeros(1, 1, 56, 56), torch.ones(1, 1, 56, 56)).shape == (1,)  # fully convolutional
    assert not any(p.requires_grad for p in perc.parameters())
    perc.train()
    assert not perc.training  # batch-norm statistics stay the classifier's


def test_diagonal_gaussian_std():
    post = DiagonalGaussian(torch.zeros(2), torch.log(torch.tensor([4.0, 9.0])))
    assert post.std.tolist() == [2.0, 3.0]
