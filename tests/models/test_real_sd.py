"""The real Stable Diffusion's classes in miniature (models/real_sd.py): a seeded tiny build from configs, its
tokenizer, the hand-written guided loop against diffusers' pipeline, img2img's start, and the missing-extra error."""

import subprocess
import sys

import pytest
import torch

from sdgan_course.models import real_sd
from sdgan_course.schedules import sampling_timesteps

PROMPT = "a photo of a sneaker"


@pytest.fixture(scope="module")
def parts():
    pytest.importorskip("diffusers", reason="the sd extra: pip install -e '.[sd]'")
    pytest.importorskip("transformers", reason="the sd extra: pip install -e '.[sd]'")
    return real_sd.build_tiny_stable_diffusion(seed=0)


def weights(part):
    return list(part.state_dict().values())


def test_the_builder_is_deterministic_and_leaves_the_global_random_state_alone(parts):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    again = real_sd.build_tiny_stable_diffusion(seed=0)
    assert torch.rand(1) == before  # the build forks the random state
    other = real_sd.build_tiny_stable_diffusion(seed=1)
    for name in ("vae", "unet", "text_encoder"):
        a, b, c = (weights(getattr(p, name)) for p in (parts, again, other))
        assert all(torch.equal(x, y) for x, y in zip(a, b)), f"{name}: the same seed gave other weights"
        assert not all(torch.equal(x, z) for x, z in zip(a, c)), f"{name}: another seed gave the same weights"


def test_the_tiny_model_has_v1s_structure(parts):
    assert parts.vae.config.scaling_factor == pytest.approx(0.18215)
    assert parts.unet.config.cross_attention_dim == parts.text_encoder.config.hidden_size
    assert parts.text_encoder.config.max_position_embeddings == 77
    assert parts.scheduler.config.beta_schedule == "scaled_linear"
    z = real_sd.encode_images(parts, torch.rand(2, 3, 64, 64) * 2 - 1, rng=torch.Generator().manual_seed(0))
    assert z.shape == (2, 4, 8, 8)  # factor 8, 4 channels
    assert real_sd.decode_latents(parts, z).shape == (2, 3, 64, 64)


def test_the_tokenizer_pads_every_string_to_77_tokens_like_clips(parts):
    tok = parts.tokenizer
    for text in [PROMPT, "A PHOTO of a Sneaker!!", "trainers, zebra-crossing, ümlaut, 漢字 😀", ""]:
        enc = tok(text, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt")
        ids, mask = enc.input_ids, enc.attention_mask
        assert ids.shape == (1, 77) and mask.shape == (1, 77)
        n = int(mask.sum())
        assert ids[0, 0] == tok.bos_token_id and ids[0, n - 1] == tok.eos_token_id
        assert (ids[0, n:] == tok.pad_token_id).all() and tok.pad_token_id == tok.eos_token_id  # CLIP pads with EOS
        assert tok.decode(ids[0, 1 : n - 1]).replace(" ", "") == text.lower().replace(" ", "")  # nothing lost
    long = tok(" ".join(["sneaker"] * 200), padding="max_length", max_length=77, truncation=True).input_ids
    assert len(long) == 77 and long[-1] == tok.eos_token_id


def test_learn_bpe_counts_like_clip_and_merges_the_most_frequent_pair_first():
    vocab, merges = real_sd.learn_bpe("ab ab ab ac", num_merges=3)
    assert merges[0] == ("a", "b</w>")  # 'a b</w>' occurs three times
    assert len(vocab) == 512 + len(merges) + 2 and list(vocab)[-2:] == ["<|startoftext|>", "<|endoftext|>"]
    assert len(real_sd.byte_symbols()) == len(set(real_sd.byte_symbols())) == 256


def test_the_hand_loop_equals_the_pipeline_and_guidance_matters(parts):
    pipe = real_sd.make_pipeline(parts)
    options = dict(num_inference_steps=4, guidance_scale=7.5)
    piped = pipe(PROMPT, generator=torch.Generator().manual_seed(3), output_type="latent", **options).images
    hand = real_sd.sample_by_hand(parts, PROMPT, steps=4, guidance=7.5, rng=torch.Generator().manual_seed(3))
    assert (piped - hand).abs().max() < 1e-5
    image = pipe(PROMPT, generator=torch.Generator().manual_seed(3), output_type="pt", **options).images
    assert (image - (real_sd.decode_latents(parts, hand) / 2 + 0.5).clamp(0, 1)).abs().max() < 1e-5
    # the comparison can fail: another guidance scale, or another seed, moves the latents far beyond the tolerance
    other = real_sd.sample_by_hand(parts, PROMPT, steps=4, guidance=5.0, rng=torch.Generator().manual_seed(3))
    assert (other - hand).abs().max() > 1e-2
    reseeded = real_sd.sample_by_hand(parts, PROMPT, steps=4, guidance=7.5, rng=torch.Generator().manual_seed(4))
    assert (reseeded - hand).abs().max() > 1e-2


def test_encoding_samples_the_posterior_and_multiplies_by_the_scaling_factor(parts):
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ours = real_sd.encode_images(parts, x, rng=torch.Generator().manual_seed(2))
    raw = parts.vae.encode(x).latent_dist.sample(generator=torch.Generator().manual_seed(2))
    assert torch.allclose(ours, raw * 0.18215, atol=1e-6)
    assert not torch.allclose(ours, raw, atol=1e-3)


def test_decoding_divides_by_the_scaling_factor(parts):
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    direct = parts.vae.decode(z / 0.18215).sample
    assert torch.allclose(real_sd.decode_latents(parts, z), direct, atol=1e-6)
    assert not torch.allclose(real_sd.decode_latents(parts, z), parts.vae.decode(z).sample, atol=1e-3)


@pytest.mark.parametrize("strength", [0.3, 0.63, 1.0])
def test_img2img_starts_where_the_course_does_on_leading_timesteps_shifted_by_one(parts, strength):
    steps, seen = 10, []
    pipe = real_sd.make_pipeline(parts, img2img=True)

    def record(_pipe, _i, t, kwargs):
        seen.append(int(t))
        return kwargs

    pipe(PROMPT, image=torch.zeros(1, 3, 64, 64), strength=strength, num_inference_steps=steps, guidance_scale=2.0,
         generator=torch.Generator().manual_seed(0), output_type="latent", callback_on_step_end=record)
    skip = steps - max(1, int(steps * strength))  # the course's generate_ldm
    assert seen == (sampling_timesteps(steps, 1000, spacing="leading")[skip:] + 1).tolist()  # steps_offset=1


def test_sd_v1_sizes_from_its_configs_match_the_model_card():
    pytest.importorskip("diffusers")
    counts = real_sd.sd_v1_parameter_counts()
    assert 855e6 < counts["unet"] < 865e6  # "an 860M UNet" (CompVis/stable-diffusion)
    assert 122e6 < counts["text_encoder"] < 124e6  # CLIP ViT-L/14's text transformer
    assert 83e6 < counts["vae"] < 85e6


def test_a_missing_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers now raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e '\.\[sd\]'"):
        real_sd.require_sd()
    with pytest.raises(ImportError, match="diffusers"):
        real_sd.build_tiny_stable_diffusion()


def test_the_course_does_not_import_diffusers_or_transformers():
    code = ("import sys, sdgan_course, sdgan_course.models.real_sd, sdgan_course.sample.ldm; "
            "print(sorted(m for m in ('diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_stable_diffusion_reads_a_saved_pipeline_and_runs_in_half_precision(parts, tmp_path):
    # the REAL_WEIGHTS path offline: from_pretrained on a folder instead of the Hub id, without a safety checker
    real_sd.make_pipeline(parts).save_pretrained(tmp_path)
    loaded = real_sd.load_stable_diffusion(str(tmp_path), device="cpu", dtype=torch.float32)
    assert type(loaded.scheduler).__name__ == "DDIMScheduler" and loaded.scheduler.config.steps_offset == 1
    options = dict(steps=3, guidance=7.5)
    ours = real_sd.sample_by_hand(parts, PROMPT, rng=torch.Generator().manual_seed(0), **options)
    assert torch.equal(real_sd.sample_by_hand(loaded, PROMPT, rng=torch.Generator().manual_seed(0), **options), ours)
    half = real_sd.load_stable_diffusion(str(tmp_path), device="cpu", dtype=torch.float16)
    hand = real_sd.sample_by_hand(half, PROMPT, rng=torch.Generator().manual_seed(0), **options)
    piped = real_sd.make_pipeline(half)(PROMPT, num_inference_steps=3, guidance_scale=7.5, output_type="latent",
                                        generator=torch.Generator().manual_seed(0)).images
    assert hand.dtype == torch.float16 and (hand - piped).abs().max() < 1e-3
