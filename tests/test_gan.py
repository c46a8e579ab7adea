import dataclasses
import json

import pytest
import torch
from torch import nn

from sdgan_course.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    GANConfig,
    GANPair,
    MLPDiscriminator,
    MLPGenerator,
    ToyDiscriminator,
    ToyGenerator,
    build_gan,
    conv_output_size,
    conv_transpose_output_size,
    count_parameters,
    init_dcgan_weights,
    layer_shapes,
    receptive_field,
    sample_noise,
)

# ---------------------------------------------------------------- noise


def test_sample_noise_shape_and_reproducible():
    a = sample_noise(5, 7, generator=torch.Generator().manual_seed(3))
    b = sample_noise(5, 7, generator=torch.Generator().manual_seed(3), device="cpu")
    assert a.shape == (5, 7) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_noise(5, 7, generator=torch.Generator().manual_seed(4)))


def test_sample_noise_is_standard_normal():
    z = sample_noise(20_000, 4, generator=torch.Generator().manual_seed(0))
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
    z = sample_noise(3, cfg.z_dim, generator=torch.Generator().manual_seed(0))
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
    z = sample_noise(1, g.z_dim, generator=torch.Generator().manual_seed(1)).repeat(2, 1)
    labels = torch.tensor([1, 7])
    x = g(z, labels)
    assert not torch.allclose(x[0], x[1])
    same = x[:1].repeat(2, 1, 1, 1)
    logits = d(same, labels)
    assert not torch.allclose(logits[0], logits[1])


def test_projection_discriminator_is_psi_plus_inner_product():
    d = DCGANDiscriminator(base_channels=4, image_size=28, num_classes=3, norm="none").eval()
    x, y = torch.randn(2, 1, 28, 28), torch.tensor([2, 0])
    phi = d.features(x).flatten(1)
    expected = d.head(phi).squeeze(1) + (d.embedding(y) * phi).sum(1)
    torch.testing.assert_close(d(x, y), expected)


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


def test_count_parameters_skips_frozen():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    m[0].requires_grad_(False)
    assert count_parameters(m) == 4 * 2 + 2


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
              if isinstance(m, (nn.Conv2d, nn.Linear))]  # fmt: skip
    assert max(abs(s - 1.0) for s in sigmas) > 0.5


def test_norm_none_has_no_batch_norm_and_batch_has_some():
    assert not any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(norm="none").modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(norm="batch").modules())


# ---------------------------------------------------------------- receptive field


def test_receptive_field_hand_computed_stack():
    # conv k3 s1: r = 1 + 2 = 3, j = 1; conv k3 s2: r = 3 + 2*1 = 5, j = 2; maxpool k2 s2: r = 5 + 1*2 = 7, j = 4;
    # conv k3 s1 dilation 2 (effective k = 5): r = 7 + 4*4 = 23, j = 4
    layers = [
        nn.Conv2d(1, 1, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(1, 1, 3, stride=2, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(1, 1, 3, dilation=2, padding=2),
    ]
    rf = receptive_field(layers)
    assert [row.size for row in rf.layers] == [3, 5, 7, 23]
    assert [row.jump for row in rf.layers] == [1, 2, 4, 4]
    assert (rf.size, rf.jump) == (23, 4)
    assert receptive_field(nn.Sequential(*layers)).size == 23


def test_receptive_field_first_centre():
    # k4 s2 p1: first output's window covers input pixels -1..2, centre 0.5
    rf = receptive_field([nn.Conv2d(1, 1, 4, stride=2, padding=1)])
    assert rf.layers[0].start == 0.5


def test_receptive_field_of_dcgan_patch_discriminator():
    # 28: k4 s2 -> r 4, j 2; k4 s2 -> r 4 + 3*2 = 10, j 4; head k3 s1 -> r 10 + 2*4 = 18
    assert receptive_field(DCGANDiscriminator(image_size=28, patch=True)).size == 18
    # 64: 4, 10, 22, 46, then head k3: 46 + 2*16 = 78
    assert receptive_field(DCGANDiscriminator(image_size=64, patch=True)).size == 78


def test_receptive_field_checks_the_layers_it_sees():
    """The walk agrees with autograd: an output's gradient is non-zero exactly on its receptive field."""
    d = DCGANDiscriminator(base_channels=2, image_size=28, patch=True, norm="none")
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    d(x)[0, 0, 3, 3].backward()
    rows, cols = torch.nonzero(x.grad[0, 0].abs() > 0, as_tuple=True)
    rf = receptive_field(d)
    assert rows.max() - rows.min() + 1 <= rf.size and cols.max() - cols.min() + 1 <= rf.size
    assert rows.max() - rows.min() + 1 >= rf.size - 2  # only zero padding/LeakyReLU slopes can shave a border


def test_receptive_field_without_convolutions_is_an_error():
    with pytest.raises(ValueError, match="no Conv2d"):
        receptive_field(nn.Sequential(nn.Linear(2, 2)))


# ---------------------------------------------------------------- size arithmetic and shape walk


@pytest.mark.parametrize("size, kernel, stride, padding", [(7, 4, 2, 1), (4, 4, 2, 1), (5, 3, 1, 1), (9, 5, 3, 0)])
def test_output_size_formulas_match_torch(size, kernel, stride, padding):
    x = torch.zeros(1, 1, size, size)
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
    convt = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding)
    assert conv_output_size(size, kernel=kernel, stride=stride, padding=padding) == conv(x).shape[-1]
    assert conv_transpose_output_size(size, kernel=kernel, stride=stride, padding=padding) == convt(x).shape[-1]


def test_output_size_hand_values():
    assert [conv_transpose_output_size(s, kernel=4, stride=2, padding=1) for s in (4, 7, 14)] == [8, 14, 28]
    assert [conv_output_size(s, kernel=4, stride=2, padding=1) for s in (28, 14, 64)] == [14, 7, 32]
    assert conv_output_size(10, kernel=3, dilation=2) == 6
    with pytest.raises(ValueError, match="leaves nothing"):
        conv_output_size(2, kernel=5)


def test_layer_shapes_walk_of_the_dcgan_generator():
    g = DCGANGenerator(z_dim=16, base_channels=4, image_size=28)
    g.train()
    running = g.net[0].running_mean.clone()
    rows = layer_shapes(g, torch.randn(3, 16))
    assert rows[0] == ("project", "Linear", (3, 8 * 7 * 7), 16 * 8 * 7 * 7)
    assert rows[1].shape == (3, 8, 7, 7)
    convt = [r for r in rows if r.kind == "ConvTranspose2d"]
    assert [r.shape for r in convt] == [(3, 4, 14, 14), (3, 1, 28, 28)]
    assert rows[-1].kind == "Tanh" and rows[-1].shape == (3, 1, 28, 28)
    assert sum(r.params for r in rows) == count_parameters(g)
    assert g.training and torch.equal(running, g.net[0].running_mean)  # mode restored, statistics untouched
    assert not g._forward_hooks and not g.project._forward_hooks  # hooks removed


def test_layer_shapes_sees_spectrally_normalised_layers_and_labels():
    d = DCGANDiscriminator(base_channels=4, num_classes=3, spectral_norm=True, norm="none")
    rows = layer_shapes(d, torch.randn(2, 1, 28, 28), torch.tensor([0, 2]))
    names = [r.name for r in rows]
    assert names[0] == "features.0" and "head" in names and "embedding" in names
    assert sum(r.params for r in rows) == count_parameters(d)


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
