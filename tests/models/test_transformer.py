"""models.transformer: the miniature MMDiT's shapes, adaLN-Zero start, joint attention in both directions, the text
padding mask, the 2-D position embedding and its errors."""

import pytest
import torch

from sdgan_course.models.transformer import MMDiT, MMDiTConfig, position_embedding_2d


def nudge(model, seed=0):
    """Give the zero-initialised layers (adaLN gates, final layer) small random values, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().sum() == 0:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


def inputs(b=3, h=7, w=7, length=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, h, w, generator=g)
    ctx = torch.randn(b, length, 12, generator=g)
    mask = torch.ones(b, length, dtype=torch.bool)
    mask[:, 3:] = False  # the last two text positions are padding
    return x, torch.rand(b, generator=g), ctx, mask


CFG = MMDiTConfig(in_channels=4, context_dim=12, width=32, depth=2, num_heads=2)


def test_shapes_for_any_canvas_and_patch_size():
    model = nudge(MMDiT(CFG))
    for h, w in ((7, 7), (7, 14)):
        x, t, ctx, mask = inputs(h=h, w=w)
        assert model(x, t, context=ctx, context_mask=mask).shape == (3, 4, h, w)
    patched = nudge(MMDiT(MMDiTConfig(in_channels=4, context_dim=12, width=32, depth=1, num_heads=2, patch_size=2)))
    x, t, ctx, mask = inputs(h=8, w=6)
    assert patched(x, t, context=ctx, context_mask=mask).shape == (3, 4, 8, 6)
    with pytest.raises(ValueError, match="multiples of the patch size 2"):
        patched(torch.randn(1, 4, 7, 7), torch.rand(1), context=ctx[:1])


def test_adaln_zero_starts_every_output_at_zero():
    x, t, ctx, mask = inputs()
    assert torch.equal(MMDiT(CFG)(x, t, context=ctx, context_mask=mask), torch.zeros_like(x))


def test_padding_tokens_change_nothing_and_real_tokens_and_time_do():
    model = nudge(MMDiT(CFG)).eval()
    x, t, ctx, mask = inputs()
    out = model(x, t, context=ctx, context_mask=mask)
    padded = ctx.clone()
    padded[:, 3:] = 100 * torch.randn_like(padded[:, 3:])
    assert torch.allclose(model(x, t, context=padded, context_mask=mask), out, atol=1e-5)
    real = ctx.clone()
    real[:, 1] += 1.0
    assert not torch.allclose(model(x, t, context=real, context_mask=mask), out, atol=1e-3)
    assert not torch.allclose(model(x, t + 0.1, context=ctx, context_mask=mask), out, atol=1e-3)


def test_joint_attention_lets_each_image_token_see_the_others_and_text_see_the_image():
    """Changing one latent pixel changes the output at other pixels (image tokens attend to each other; a patch size
    of 1 has no other path between pixels), and, through the text stream updated by the image in block 1, block 2's
    text tokens carry information about the image (checked with depth 2 against a one-way model)."""
    model = nudge(MMDiT(CFG)).eval()
    x, t, ctx, mask = inputs()
    out = model(x, t, context=ctx, context_mask=mask)
    moved = x.clone()
    moved[:, :, 0, 0] += 1.0
    diff = (model(moved, t, context=ctx, context_mask=mask) - out).abs()
    assert diff[:, :, 3:, 3:].max() > 1e-4  # far from the changed pixel
    # the text stream's output in the first block depends on the image (joint attention), so the text tokens that
    # enter block 2 differ when the image differs
    captured = []
    model.blocks[1].register_forward_pre_hook(lambda mod, args: captured.append(args[1].clone()))
    model(x, t, context=ctx, context_mask=mask)
    model(moved, t, context=ctx, context_mask=mask)
    assert not torch.allclose(captured[0], captured[1], atol=1e-6)


def test_the_position_embedding_is_sine_cosine_by_row_and_column():
    pe = position_embedding_2d(3, 4, 8)
    assert pe.shape == (12, 8)
    assert torch.allclose(pe[0], torch.tensor([0.0, 0, 1, 1, 0, 0, 1, 1]))  # row 0, column 0: sines 0, cosines 1
    assert torch.allclose(pe[5, 0], torch.sin(torch.tensor(1.0)))  # position 5 = row 1, column 1
    assert torch.allclose(pe[5, 4], torch.sin(torch.tensor(1.0)))
    assert len({tuple(row.tolist()) for row in pe}) == 12  # every position differs


def test_bad_configs_and_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="heads"):
        MMDiTConfig(width=30, num_heads=4)
    model = MMDiT(CFG)
    with pytest.raises(ValueError, match=r"\(B, 4, h, w\)"):
        model(torch.randn(1, 3, 7, 7), torch.rand(1), context=torch.randn(1, 2, 12))
    with pytest.raises(ValueError, match="pass context"):
        model(torch.randn(1, 4, 7, 7), torch.rand(1))


def test_the_attention_weights_are_those_the_block_uses():
    """attention_weights gives softmax(q k^T / sqrt(d)) with padding masked; multiplied by v it is the attention that
    scaled_dot_product_attention computes inside the block."""
    model = nudge(MMDiT(CFG)).eval()
    x, t, ctx, mask = inputs()
    weights = model.attention_weights(x, t, context=ctx, context_mask=mask, block=1)
    assert weights.shape == (3, 2, 5 + 49, 5 + 49)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 2, 54), atol=1e-5)
    assert weights[..., 3:5].abs().max() == 0  # the padding keys get no weight
    tokens, text, c, key_mask = model.embed(x, t, ctx, mask)
    tokens, text = model.blocks[0](tokens, text, c, key_mask)
    _, q, k, v = model.blocks[1].joint_qkv(tokens, text, c)
    sdpa = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
    assert torch.allclose(weights @ v, sdpa, atol=1e-5)
