"""The diffusion U-Net and its blocks: shapes at every size, conditioning, attention, bad input."""

import pytest
import torch

from sdgan_course.models.unet import UNet, UNetConfig
from sdgan_course.nn.attention import SpatialAttention
from sdgan_course.nn.embedding import sinusoidal_embedding


@pytest.mark.parametrize("profile", ["ci", "cpu"])
@pytest.mark.parametrize("hw", [(28, 28), (7, 7), (14, 42), (32, 32), (5, 9)])
def test_unet_shapes_for_every_size(profile, hw):
    model = UNet(UNetConfig.preset(profile, num_classes=10))
    x = torch.randn(2, 1, *hw)
    out = model(x, torch.tensor([0, 999]), torch.tensor([3, 10]))  # 10 = the null class
    assert out.shape == x.shape


def test_latent_channels_and_cross_attention():
    cfg = UNetConfig.preset("ci", in_channels=4, context_dim=12)
    model = UNet(cfg)
    x, ctx = torch.randn(3, 4, 7, 7), torch.randn(3, 5, 12)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    assert model(x, torch.tensor([1, 2, 3]), context=ctx, context_mask=mask).shape == x.shape
    with pytest.raises(ValueError, match="context"):
        model(x, torch.tensor([1, 2, 3]))


def test_sinusoidal_embedding():
    e = sinusoidal_embedding(torch.tensor([0, 5]), 8)
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert e[1, 0].item() == pytest.approx(torch.cos(torch.tensor(5.0)).item())
    with pytest.raises(ValueError, match="even"):
        sinusoidal_embedding(torch.tensor([1]), 7)


def test_attention_matches_explicit_softmax_and_masks():
    torch.manual_seed(0)
    attn = SpatialAttention(8, num_heads=2, context_dim=6, groups=4)
    torch.nn.init.normal_(attn.out.weight)  # not the identity start, so the output depends on the weights
    x, ctx = torch.randn(2, 8, 3, 3), torch.randn(2, 4, 6)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    fast = attn(x, ctx, mask)
    attn.keep_weights = True
    slow = attn(x, ctx, mask)
    assert torch.allclose(fast, slow, atol=1e-5)
    w = attn.last_weights  # (B, heads, N, L)
    assert w.shape == (2, 2, 9, 4) and torch.allclose(w.sum(-1), torch.ones(2, 2, 9))
    assert w[0, :, :, 2:].abs().max() == 0  # masked tokens get no attention
    # a padded token's content cannot change the output
    ctx2 = ctx.clone()
    ctx2[0, 3] += 10
    assert torch.allclose(attn(x, ctx2, mask)[0], slow[0], atol=1e-5)


def test_label_changes_the_output_and_unconditional_refuses_labels():
    model = UNet(UNetConfig.preset("ci", num_classes=10))
    with torch.no_grad():  # the output layers start at zero (each block starts as the identity): perturb them
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, t = torch.randn(1, 1, 28, 28), torch.tensor([500])
    assert not torch.allclose(model(x, t, torch.tensor([1])), model(x, t, torch.tensor([2])))
    with pytest.raises(ValueError, match="unconditional"):
        UNet(UNetConfig.preset("ci"))(x, t, torch.tensor([1]))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.randn(1, 3, 28, 28), t)
    with pytest.raises(ValueError, match="attention_levels"):
        UNetConfig(channel_mults=(1, 2), attention_levels=(3,))
    with pytest.raises(ValueError, match="Valid profiles"):
        UNetConfig.preset("laptop")


def test_unet_preset_contract(check_preset):
    made = check_preset(UNetConfig.preset, "UNetConfig.preset", base_channels=8, num_classes=10)
    assert made["cpu"].base_channels == 24  # the shipped model's size
