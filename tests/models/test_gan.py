import dataclasses
import json

import pytest
import torch
from torch import nn

from sdgan_course.models.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    GANConfig,
    GANPair,
    MLPDiscriminator,
    MLPGenerator,
    build_gan,
    sample_noise,
)
from sdgan_course.models.toy import ToyDiscriminator, ToyGenerator
from sdgan_course.nn.blocks import init_dcgan_weights
from sdgan_course.nn.inspect import count_parameters, layer_shapes

# ---------------------------------------------------------------- noise


def test_sample_noise_shape_and_reproducible():
    a = sample_noise(5, 7, rng=torch.Generator().manual_seed(3))
    b = sample_noise(5, 7, rng=torch.Generator().manual_seed(3), device="cpu")
    assert a.shape == (5, 7) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_noise(5, 7, rng=torch.Generator().manual_seed(4)))


def test_sample_noise_is_standard_normal():
    z = sample_noise(20_000, 4, rng=torch.Generator().manual_seed(0))
    assert abs(z.mean().item()) < 0.02
    assert abs(z.std().item() - 1.0) < 0.02


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("image_size", [28, 32, 64])
@pytest.mark.parametrize("num_classes", [0, 10])
@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_output_shapes(arch, image_size, num_classes):
    cfg = GANConfig.preset("ci", conditional=num_classes > 0, num_classes=num_classes, arch=arch)
    cfg = cfg.replace(image_size=image_size)
    g, d = build_gan(cfg)
    z = sample_noise(3, cfg.z_dim, rng=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 4, 9]) if num_classes else None
    x = g(z, labels)
    assert x.shape == (3, 1, image_size, image_size)
    assert x.min() >= -1.0 and x.max() <= 1.0  # tanh
    assert d(x, labels).shape == (3,)


@pytest.mark.parametrize("image_size, map_size", [(28, 7), (32, 4), (64, 4)])
@pytest.mark.parametrize("num_classes", [0, 5])
def test_patch_discriminator_returns_a_map(image_size, map_size, num_classes):
    d = DCGANDiscriminator(base_channels=4, image_size=image_size, num_classes=num_classes, patch=True)
    labels = torch.tensor([0, 4]) if num_classes else None
    out = d(torch.randn(2, 1, image_size, image_size), labels)
    assert out.shape == (2, 1, map_size, map_size)


def test_dcgan_three_channels():
    g = DCGANGenerator(z_dim=8, base_channels=4, image_size=32, channels=3)
    d = DCGANDiscriminator(base_channels=4, image_size=32, channels=3)
    x = g(torch.randn(2, 8))
    assert x.shape == (2, 3, 32, 32)
    assert d(x).shape == (2,)


def test_mlp_generator_reshapes_784_to_1x28x28():
    g = MLPGenerator()
    last = [m for m in g.modules() if isinstance(m, nn.Linear)][-1]
    assert last.out_features == 784 == 28 * 28
    assert g(torch.randn(2, 100)).shape == (2, 1, 28, 28)


def test_toy_pair_shapes():
    g, d = ToyGenerator(z_dim=3, data_dim=2), ToyDiscriminator(data_dim=2, spectral_norm=True)
    x = g(torch.randn(6, 3))
    assert x.shape == (6, 2)
    assert d(x).shape == (6,)
    g1, d1 = ToyGenerator(z_dim=1, data_dim=1), ToyDiscriminator(data_dim=1)
    assert d1(g1(torch.randn(4, 1))).shape == (4,)
    assert d1(torch.randn(4)).shape == (4,)  # 1-D data may come without its feature axis


def test_discriminators_return_logits_not_probabilities():
    d = MLPDiscriminator(hidden=(8,))
    with torch.no_grad():
        d.net[-1].bias.fill_(5.0)
    assert (d(torch.zeros(2, 1, 28, 28)) > 1.0).all()  # a sigmoid would keep it below 1


# ---------------------------------------------------------------- conditioning


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_labels_change_the_outputs(arch):
    torch.manual_seed(0)
    g, d = build_gan(GANConfig.preset("ci", conditional=True, num_classes=10, arch=arch))
    g.eval(), d.eval()
    z = sample_noise(1, g.z_dim, rng=torch.Generator().manual_seed(1)).repeat(2, 1)
    labels = torch.tensor([1, 7])
    x = g(z, labels)
    assert not torch.allclose(x[0], x[1])
    same = x[:1].repeat(2, 1, 1, 1)
    logits = d(same, labels)
    assert not torch.allclose(logits[0], logits[1])


def test_projection_discriminator_is_psi_plus_inner_product():
    d = DCGANDiscriminator(base_channels=4, image_size=28, num_classes=3, norm="none", conditioning="projection").eval()
    x, y = torch.randn(2, 1, 28, 28), torch.tensor([2, 0])
    phi = d.features(x).flatten(1)
    expected = d.head(phi).squeeze(1) + (d.embedding(y) * phi).sum(1)
    torch.testing.assert_close(d(x, y), expected)


def test_the_discriminator_and_the_config_default_to_the_same_conditioning():
    assert DCGANDiscriminator(num_classes=3).conditioning == GANConfig().d_conditioning == "concat"
    assert DCGANDiscriminator(num_classes=3).embedding is None  # concat: no projection embedding


def test_label_errors():
    g = DCGANGenerator(z_dim=4, base_channels=4, num_classes=10)
    with pytest.raises(ValueError, match="labels"):
        g(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        g(torch.randn(2, 4), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="unconditional"):
        MLPGenerator(z_dim=4, hidden=(8,))(torch.randn(2, 4), torch.tensor([1, 2]))


def test_wrong_image_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="28"):
        DCGANDiscriminator(base_channels=4, image_size=28)(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="expects images"):
        MLPDiscriminator()(torch.randn(2, 28, 28, 1))


# ---------------------------------------------------------------- config


def test_bad_image_size_names_valid_sizes():
    with pytest.raises(ValueError, match="28, 32, 64"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError, match="28, 32, 64"):
        DCGANDiscriminator(image_size=30)
    with pytest.raises(ValueError, match="28, 32, 64"):
        GANConfig(image_size=100)


def test_bad_arch_norm_profile_are_clear_errors():
    with pytest.raises(ValueError, match="'dcgan', 'mlp'"):
        GANConfig(arch="stylegan")
    with pytest.raises(ValueError, match="'batch', 'none'"):
        GANConfig(d_norm="layer")
    with pytest.raises(ValueError, match="'batch', 'none'"):
        DCGANDiscriminator(norm="instance")
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        GANConfig.preset("laptop")


def test_presets_grow_with_the_profile():
    ci, cpu, gpu = (GANConfig.preset(p) for p in ("ci", "cpu", "gpu"))
    assert ci.base_channels < cpu.base_channels <= gpu.base_channels
    assert gpu.z_dim == 100 and gpu.base_channels == 64
    assert GANConfig.preset("cpu", conditional=True).num_classes == 10
    assert GANConfig.preset("cpu", conditional=True, num_classes=3).num_classes == 3
    assert GANConfig.preset("cpu", num_classes=3).num_classes == 0
    assert GANConfig.preset("cpu", base_channels=32, d_norm="none").base_channels == 32  # any field, by keyword


def test_gan_preset_contract(check_preset):
    check_preset(GANConfig.preset, "GANConfig.preset", z_dim=7, base_channels=4, g_hidden=(8,))
    conditional = check_preset(lambda p, **kw: GANConfig.preset(p, conditional=True, arch="mlp", **kw),
                               "GANConfig.preset", d_hidden=(16,))
    assert all(c.num_classes == 10 and c.arch == "mlp" for c in conditional.values())


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_config_round_trip_rebuilds_identical_model(arch):
    cfg = GANConfig.preset("ci", conditional=True, arch=arch).replace(spectral_norm=True, d_norm="none")
    stored = json.loads(json.dumps(dataclasses.asdict(cfg)))  # tuples become lists on the way
    assert isinstance(stored["g_hidden"], list)
    rebuilt = GANConfig(**stored)
    assert rebuilt == cfg and isinstance(rebuilt.g_hidden, tuple)
    torch.manual_seed(0)
    a = build_gan(cfg)
    torch.manual_seed(0)
    b = build_gan(rebuilt)
    for m, n in zip(a, b, strict=True):
        sa, sb = m.state_dict(), n.state_dict()
        assert list(sa) == list(sb)
        for k in sa:
            assert sa[k].shape == sb[k].shape
            assert torch.equal(sa[k], sb[k])
    b.generator.load_state_dict(a.generator.state_dict())


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        GANConfig().z_dim = 3


def test_build_gan_returns_pair_of_the_right_types():
    pair = build_gan(GANConfig.preset("ci"))
    assert isinstance(pair, GANPair)
    assert isinstance(pair.generator, DCGANGenerator) and isinstance(pair.discriminator, DCGANDiscriminator)
    pair = build_gan(GANConfig.preset("ci", arch="mlp"))
    assert isinstance(pair.generator, MLPGenerator) and isinstance(pair.discriminator, MLPDiscriminator)


# ---------------------------------------------------------------- parameters and init


def test_mlp_generator_parameter_count_by_hand():
    sizes = [100, 128, 256, 512, 1024, 784]
    by_hand = 100 * 128 + 128 + 128 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 784 + 784
    assert by_hand == sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False)) == 1_506_448
    assert count_parameters(MLPGenerator()) == by_hand


def test_mlp_discriminator_parameter_count_by_hand():
    assert count_parameters(MLPDiscriminator()) == 784 * 512 + 512 + 512 * 256 + 256 + 256 + 1


def test_count_parameters_counts_frozen_unless_asked_for_trainable_only():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    m[0].requires_grad_(False)
    assert count_parameters(m) == 3 * 4 + 4 + 4 * 2 + 2  # a frozen or EMA model still has its size
    assert count_parameters(m, trainable_only=True) == 4 * 2 + 2


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    g, d = build_gan(GANConfig.preset("gpu"))
    w = g.project.weight
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bn = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn and all(abs(m.weight.mean().item() - 1.0) < 0.01 for m in bn)
    assert all(torch.all(m.bias == 0) for m in bn)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert abs(torch.cat([c.weight.flatten() for c in convs]).std().item() - 0.02) < 2e-3
    assert torch.all(d.head.bias == 0)


def test_init_reaches_spectrally_normalised_weights():
    d = DCGANDiscriminator(base_channels=16, spectral_norm=True, norm="none")
    init_dcgan_weights(d)
    original = d.features[0].parametrizations.weight.original
    assert abs(original.std().item() - 0.02) < 5e-3


# ---------------------------------------------------------------- spectral norm


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_spectral_norm_gives_unit_largest_singular_value(arch):
    torch.manual_seed(0)
    cfg = GANConfig.preset("ci", arch=arch).replace(spectral_norm=True, d_norm="none")
    _, d = build_gan(cfg)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        for _ in range(100):  # each training-mode forward runs one power iteration per layer
            d(x)
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers
    for m in layers:
        assert hasattr(m, "parametrizations"), f"{m} is not spectrally normalised"
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item()
        assert abs(sigma - 1.0) < 1e-2, sigma
    # without it, the largest singular values are far from 1
    _, plain = build_gan(cfg.replace(spectral_norm=False))
    sigmas = [torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item() for m in plain.modules()
              if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert max(abs(s - 1.0) for s in sigmas) > 0.5


def test_norm_none_has_no_batch_norm_and_batch_has_some():
    assert not any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(norm="none").modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(norm="batch").modules())


def test_mlp_generator_shape_walk_ends_in_unflatten():
    rows = layer_shapes(MLPGenerator(), torch.randn(2, 100))
    assert [r.shape[1] for r in rows if r.kind == "Linear"] == [128, 256, 512, 1024, 784]
    assert rows[-1].kind == "Unflatten" and rows[-1].shape == (2, 1, 28, 28)


def test_concat_conditioning_feeds_one_hot_label_maps():
    d = DCGANDiscriminator(base_channels=8, num_classes=10, conditioning="concat").eval()
    assert d.features[0].in_channels == 1 + 10 and d.embedding is None
    x = torch.randn(4, 1, 28, 28)
    a, b = d(x, torch.tensor([0, 1, 2, 3])), d(x, torch.tensor([3, 2, 1, 0]))
    assert a.shape == (4,) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="projection, concat"):
        DCGANDiscriminator(num_classes=10, conditioning="film")
    cfg = GANConfig.preset("ci", conditional=True).replace(d_conditioning="concat")
    assert build_gan(cfg).discriminator.conditioning == "concat"
