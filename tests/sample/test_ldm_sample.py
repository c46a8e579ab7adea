"""Text-to-image sampling: guidance against a negative prompt, canvas sizes, image-to-image, bad prompts."""

import pytest
import torch

from sdgan_course.models.ldm import PromptContext, canvas_for_prompt
from sdgan_course.sample.ldm import generate_ldm, prompt_guidance
from sdgan_course.train.ldm import load_ldm


@pytest.fixture(scope="module")
def ldm(tmp_path_factory, tiny_ldm_run):
    from sdgan_course.train.ldm import export_ldm

    run = tiny_ldm_run()
    torch.manual_seed(3)
    with torch.no_grad():  # a U-Net whose output depends on the prompt (the trained-from-zero one predicts 0)
        for p in run.ema.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return load_ldm(export_ldm(run, tmp_path_factory.mktemp("ldm") / "ldm.pt"))


def test_guidance_is_the_classifier_free_mix_against_the_negative_prompt(ldm):
    prompt, negative = ldm.encode_prompts(["a photo of a bag"] * 2), ldm.encode_prompts(["a photo of a coat"] * 2)
    z, t = torch.randn(2, 4, 7, 7), torch.tensor([10, 700])
    with torch.no_grad():
        cond = ldm.unet(z, t, context=prompt.tokens, context_mask=prompt.mask)
        neg = ldm.unet(z, t, context=negative.tokens, context_mask=negative.mask)
        guided = prompt_guidance(ldm.unet, prompt, negative, scale=4.0)(z, t)
        plain = prompt_guidance(ldm.unet, prompt, negative, scale=1.0)(z, t)
    assert not torch.allclose(cond, neg)
    assert torch.allclose(guided, neg + 4.0 * (cond - neg), atol=1e-5)
    assert torch.allclose(plain, cond, atol=1e-6)


def test_prompts_choose_the_canvas():
    assert canvas_for_prompt("a photo of a sneaker") == (28, 28)
    assert canvas_for_prompt("a bag to the left of a coat") == (28, 56)


def test_generate_gives_images_in_range_for_single_and_pair_prompts(ldm):
    rng = torch.Generator().manual_seed(0)
    single = generate_ldm(ldm, "a photo of a sneaker", 3, steps=4, rng=rng)
    pair = generate_ldm(ldm, "a sneaker to the left of a bag", 2, steps=4, sampler="ddim", rng=rng)
    assert single.shape == (3, 1, 28, 28) and pair.shape == (2, 1, 28, 56)
    assert single.min() >= -1 and single.max() <= 1
    again = generate_ldm(ldm, "a photo of a sneaker", 3, steps=4, rng=torch.Generator().manual_seed(0))
    assert torch.equal(single, again)  # seeded
    other = generate_ldm(ldm, "a photo of a sneaker", 3, steps=4, negative_prompt="a photo of a sandal",
                         rng=torch.Generator().manual_seed(0))
    assert not torch.equal(single, other)


def test_latents_are_not_clamped(ldm):
    _, z = generate_ldm(ldm, "a bag", 4, steps=3, guidance=1.0, rng=torch.Generator().manual_seed(0),
                        return_latents=True)
    assert z.abs().max() > 1  # unit-variance latents: clamping them to [-1, 1] would be a bug


def test_image_to_image_starts_from_the_noised_input_at_the_strength_timestep(tiny_ldm_run, tmp_path):
    # An untrained U-Net predicts eps = 0 (its last conv starts at zero). Deterministic DDIM then ends at
    # x_t / sqrt(abar_t): the input latent plus sqrt((1 - abar_t) / abar_t) times the noise it was noised with, a
    # closed form that pins down which timestep `strength` starts from.
    from sdgan_course.schedules import sampling_timesteps
    from sdgan_course.train.ldm import export_ldm

    zero = load_ldm(export_ldm(tiny_ldm_run(), tmp_path / "zero.pt"))
    init = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z0 = zero.encode_images(init)
    # (0.35, 10): diffusers truncates, int(3.5) = 3 steps run from index 7; rounding would run 4
    for strength, steps in ((0.3, 10), (1.0, 10), (0.25, 4), (0.35, 10)):
        _, z = generate_ldm(zero, "a bag", 2, sampler="ddim", steps=steps, init_images=init, strength=strength,
                            rng=torch.Generator().manual_seed(2), return_latents=True)
        start = {0.3: 7, 1.0: 0, 0.25: 3, 0.35: 7}[strength]  # steps - int(steps * strength), by hand
        t = sampling_timesteps(steps, 1000, spacing="trailing")[start]
        abar = zero.schedule.alpha_bar[t].double()
        noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(2))
        expected = z0 + ((1 - abar) / abar).sqrt().float() * noise
        assert torch.allclose(z, expected, rtol=1e-3, atol=1e-3 * (1 + expected.abs().max().item())), strength
    with pytest.raises(ValueError, match="strength"):
        generate_ldm(zero, "a bag", 1, init_images=init[:1], strength=0.0)


def test_bad_requests_say_what_to_do(ldm):
    assert generate_ldm(ldm, "a photo of a sneeker", 1, steps=2).shape == (1, 1, 28, 28)  # a typo still samples
    with pytest.raises(ValueError, match="Unknown sampler"):
        generate_ldm(ldm, "a bag", 1, sampler="euler")
    with pytest.raises(ValueError, match="one prompt, or n = 3"):
        generate_ldm(ldm, ["a bag", "a coat"], 3)
    assert isinstance(ldm.encode_prompts(""), PromptContext)
