"""Checks for the exercises of notebook 11, Stable Diffusion in miniature.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..losses.clip import clip_loss
from ..nn.attention import SpatialAttention
from ..sample.dpm_solver import dpm_solver_sample
from ..sample.ldm import SPACING
from ..schedules import sampling_timesteps
from . import solutions
from .checks import as_number, call, close, expect, mistake, passed

NOTEBOOK = "11_stable_diffusion_in_miniature"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _masked_attention(q, k, v, mask, *, scale=True, use_mask=True, dim=-1):
    """Scaled dot-product attention with the variants of the typical mistakes: (B, h, N, d)."""
    scores = q @ k.transpose(-1, -2)  # (B, h, N, L)
    if scale:
        scores = scores / q.shape[-1] ** 0.5
    if use_mask:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return scores.softmax(dim) @ v  # (B, h, N, d)


def check_attention(attention) -> None:
    """Exercise 1: multi-head scaled dot-product attention with a padding mask, inside the library's layer."""
    hint = ("score every query against every key (a matrix product, (B, heads, N, L)) and divide by sqrt(d), "
            "d = q.shape[-1]; padding (mask False) must get weight 0 after the softmax, so its score must be -inf "
            "before it; the softmax runs over the tokens, and the weights average the values. ex.show('ex1') "
            "prints our solution.")
    rng = torch.Generator().manual_seed(0)
    layer = SpatialAttention(16, num_heads=2, context_dim=12, groups=4)  # C = 16, 2 heads of d = 8
    with torch.no_grad():
        for p in layer.parameters():  # random weights everywhere (the output projection starts at zero)
            p.copy_(0.3 * torch.randn(p.shape, generator=rng))
        x = torch.randn(2, 16, 3, 3, generator=rng)  # (B, C, h, w): N = 9 pixels
        context = torch.randn(2, 5, 12, generator=rng)  # (B, L, E): 5 tokens
        mask = torch.tensor([[True, True, True, False, False], [True] * 5])  # (B, L) the first prompt is padded
        tokens = layer.norm(x).flatten(2).transpose(1, 2)  # (B, N, C)
        q, k, v = (z.view(2, -1, 2, 8).transpose(1, 2)  # (B, heads, *, d)
                   for z in (layer.to_q(tokens), layer.to_k(context), layer.to_v(context)))
    got = call(attention, q, k, v, mask, name="attention", hint=hint)
    expect(isinstance(got, torch.Tensor), "attention should return a tensor.", hint)
    expect(tuple(got.shape) == tuple(q.shape), f"attention returned shape {tuple(got.shape)}; one d-wide vector per "
           f"head and pixel, {tuple(q.shape)} = (B, heads, N, d), is expected.", hint)
    got = got.detach().double()
    variants = {name: _masked_attention(q, k, v, mask, **kw).double().nan_to_num() for name, kw in
                (("no scale", dict(scale=False)), ("no mask", dict(use_mask=False)), ("axis", dict(dim=-2)))}
    mistake(torch.allclose(got, variants["no scale"], atol=1e-5), "attention does not divide the scores by sqrt(d).",
            "without 1/sqrt(d) the dot products grow with the head width and the softmax saturates (Vaswani et al. "
            "2017, section 3.2.1).")
    mistake(torch.allclose(got, variants["no mask"], atol=1e-5),
            "attention gives weight to the padding positions: the mask is not used.",
            "set the scores where mask is False to -inf before the softmax, so those tokens get weight 0.")
    mistake(torch.allclose(got.nan_to_num(), variants["axis"], atol=1e-5),
            "the softmax runs over the pixels (axis -2): each token's weights sum to 1, not each pixel's.",
            "every pixel (query) distributes its attention over the tokens: softmax(dim=-1).")
    with torch.no_grad():
        by_hand = x + layer.out(got.float().transpose(1, 2).reshape(2, 9, 16)).transpose(1, 2).view_as(x)
        library = layer(x, context, mask)  # (B, C, h, w)
    close(by_hand, library, "attention", hint, atol=1e-5, what="what the library's SpatialAttention computes")
    passed("Your attention, put inside the projections of a cross-attention layer, gives the layer's output: "
           "queries from the pixels, keys and values from the tokens, padding ignored.")


def check_unchanged_tokens(unchanged_tokens, ldm) -> None:
    """Exercise 2: how many real token embeddings stay the same when the first item of a prompt changes."""
    hint = ("compare the two prompts' embeddings position by position: one number per position (the largest absolute "
            "difference over the embedding), only at the real tokens (the mask), then count the positions below "
            "1e-5. A sum of a boolean tensor is fine. ex.show('ex2') prints our solution.")
    value = as_number(unchanged_tokens, "unchanged_tokens", hint)  # 2, 2.0, tensor(2) and numpy's 2 all count
    context = ldm.encode_prompts(["a sneaker to the left of a bag", "a coat to the left of a bag"])
    real = context.mask[0]  # (L,) <start>, 8 words, <end>
    same = (context.tokens[0] - context.tokens[1]).abs().amax(-1)[real] < 1e-5  # (10,)
    expected, total = int(same.sum()), int(real.sum())
    expect(value.is_integer(), f"unchanged_tokens should be a whole number of positions, got {value:g}.", hint)
    value = int(value)
    mistake(value == 0, "unchanged_tokens = 0 says every token sees the whole sentence, as in a bidirectional "
            "encoder (BERT).", "CLIP's text encoder is causal: position i attends only to positions 0..i.")
    mistake(value == total - 1, f"unchanged_tokens = {value} says only the changed word's vector changes, as if each "
            "token were embedded on its own.", "the transformer mixes the tokens: every position after the changed "
            "word attends to it.")
    mistake(value == len(same) - expected and value != expected, f"unchanged_tokens = {value} counts the positions "
            "that *changed*.", "count the positions whose largest difference is below 1e-5, not above it.")
    expect(value == expected, f"unchanged_tokens = {value}; that is not what the encoder gives.", hint)
    passed(f"{expected} of the {total} real tokens (<start> and 'a') are the same: a causal encoder's token knows only "
           "the words before it, so 'sneaker' cannot know that it goes to the left; the tokens after 'left of' can.")


SDEDIT_STEPS, SDEDIT_STRENGTH = 20, 0.63  # exercise 3: 20 x 0.63 = 12.6, where truncating and rounding differ


def check_sdedit_start(steps_run, t_start, schedule) -> None:
    """Exercise 3: SDEdit with 20 DPM-Solver++ steps and strength 0.63: how many steps run, from which timestep."""
    hint = ("strength is the share of the 20 steps that run, truncated to a whole number as the library does "
            "(section 8); the steps skipped are the first ones, so the sampler starts at the first timestep that is "
            "not skipped. ex.show('ex3') prints our solution.")
    steps_run = as_number(steps_run, "steps_run", hint)
    t_start = as_number(t_start, "t_start", hint)
    steps, strength = SDEDIT_STEPS, SDEDIT_STRENGTH
    run = max(1, int(steps * strength))  # as generate_ldm (and diffusers): truncated
    skip = steps - run
    timesteps = [int(t) for t in sampling_timesteps(steps, schedule.num_steps, spacing=SPACING)]  # 999, 949, ...
    visited = []

    def eps_fn(z, t):  # records the timesteps the sampler visits
        visited.append(int(t[0]))
        return torch.zeros_like(z)

    start = torch.zeros(1, 4, 7, 7)  # (1, C, h, w) a stand-in for the noised latent
    dpm_solver_sample(eps_fn, (1, 4, 7, 7), schedule, num_steps=steps, spacing=SPACING, clip_x0=False,
                      clamp_output=False, x_start=start, start_step=skip)
    rounded = round(steps * strength)  # 13: what round() gives where the library truncates
    mistake(steps_run == rounded and rounded != run,
            f"steps_run = {steps_run:g} rounds {steps} x {strength:g} = {steps * strength:g}; the library truncates.",
            f"the library runs int(steps x strength) steps, as diffusers does: int({steps * strength:g}) = {run}.")
    mistake(steps_run == skip, f"steps_run = {steps_run:g} is the number of steps *skipped*.",
            f"strength is the share of the steps that run: {strength:g} of {steps}.")
    close(steps_run, len(visited), "steps_run", hint, rtol=0, atol=0, what="the number of sampler steps that run")
    mistake(t_start == round(strength * schedule.num_steps),
            f"t_start = {t_start:g} is strength x T; the sampler starts at one of its own timesteps.",
            f"the {steps} trailing timesteps are 999, 949, ..., 49; skip the first {skip} of them.")
    mistake(t_start == timesteps[skip - 1], f"t_start = {t_start:g} is the last timestep *skipped*, one step too "
            "early.", f"skip the first {skip} timesteps and start at the next one: index {skip}.")
    mistake(t_start == timesteps[run] and run != skip, f"t_start = {t_start:g} is the timestep at index steps_run: "
            "the steps were counted from the wrong end.",
            "a larger strength starts at a *higher* noise level (strength 1 starts from pure noise, t = 999): "
            "the index to start at is the number of steps skipped.")
    close(t_start, visited[0], "t_start", hint, rtol=0, atol=0, what="the first timestep the sampler visits")
    passed(f"{len(visited)} steps from t = {visited[0]}: the input's latent is noised to timestep {visited[0]} of "
           f"{schedule.num_steps - 1}, and the last {len(visited)} of the {steps} steps denoise it with the new "
           f"prompt (round({steps} x {strength:g}) would have run {rounded}).")


def attention_weights_at_sd_scale() -> tuple[int, int]:
    """Softmax entries per image of a cross- and a self-attention layer at Stable Diffusion v1's highest-resolution
    attention level: a 64 x 64 latent, 8 heads, 77 tokens. The cross-attention count is read off the library's layer
    (its kept weights, (1, heads, N, L)); the count does not depend on the channel width, so a narrow layer serves.
    The self-attention map, (1, heads, N, N), would take half a gigabyte: it is counted from the same heads and N."""
    rng = torch.Generator().manual_seed(0)
    cross = SpatialAttention(8, num_heads=8, context_dim=8, groups=8)
    cross.keep_weights = True
    with torch.no_grad():
        cross(torch.randn(1, 8, 64, 64, generator=rng), torch.randn(1, 77, 8, generator=rng))  # (1, C, h, w), (1, L, E)
    _, heads, pixels, _ = cross.last_weights.shape  # (1, 8, 4096, 77)
    return cross.last_weights.numel(), heads * pixels * pixels


def check_attention_weights(cross_weights, self_weights) -> None:
    """Exercise 4: attention weights per image of one cross- and one self-attention layer at SD v1's 64 x 64 level."""
    hint = ("a layer computes one softmax weight per head, per query and per key; in cross-attention the queries "
            "are the latent pixels and the keys the tokens, in self-attention both are the pixels.")
    cross_weights = as_number(cross_weights, "cross_weights", hint)
    self_weights = as_number(self_weights, "self_weights", hint)
    cross, self_ = attention_weights_at_sd_scale()
    heads, pixels, tokens = 8, 64 * 64, 77
    mistake(_isclose(cross_weights, cross / heads) or _isclose(self_weights, self_ / heads),
            "the count leaves out the heads.", "each of the 8 heads computes its own attention map.")
    mistake(_isclose(cross_weights, heads * 64 * tokens) or _isclose(self_weights, heads * 64 * 64),
            "the count uses the side of the latent (64) where it needs its pixels.",
            f"there is one query per latent pixel: N = 64 x 64 = {pixels:,}.")
    close(cross_weights, cross, "cross_weights", hint, rtol=1e-9, what="the cross-attention weights of one image")
    mistake(_isclose(self_weights, cross), "self_weights equals the cross-attention count.",
            "in self-attention the keys are the pixels too, not the tokens.")
    close(self_weights, self_, "self_weights", hint, rtol=1e-9, what="the self-attention weights of one image")
    passed(f"{cross:,} cross-attention weights against {self_:,} for self-attention: {self_ / cross:.0f} times fewer "
           f"(N / L = {pixels:,} / {tokens}). The text costs little; "
           "attention over the pixels is what makes the highest resolutions expensive.")


def _isclose(a, b) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    except (TypeError, ValueError):
        return False


def check_clip_loss(clip_loss_by_hand) -> None:
    """Exercise 5: CLIP's symmetric contrastive loss from a similarity matrix and the logit scale."""
    hint = ("the logits are the cosines times scale; each row (an image) is a classification over the captions whose "
            "right answer is on the diagonal, and so is each column (a caption) over the images: two cross-entropies, "
            "then their mean. ex.show('ex5') prints our solution.")
    rng = torch.Generator().manual_seed(0)
    image_emb, text_emb = torch.randn(4, 8, generator=rng), torch.randn(4, 8, generator=rng)  # (B, D) each
    text_emb = text_emb + 1.5 * image_emb  # matching pairs a little alike
    log_scale = torch.tensor(math.log(1 / 0.07))  # CLIP's initial temperature
    similarity = F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T  # (B, B) cosines
    scale = float(log_scale.exp())
    got = call(clip_loss_by_hand, similarity.clone(), scale, name="clip_loss_by_hand", hint=hint)
    value = as_number(got, "clip_loss_by_hand(similarity, scale)", hint)  # a 0-d tensor, a float or numpy's float
    expected = float(clip_loss(image_emb, text_emb, log_scale).loss)
    labels = torch.arange(4)
    rows = float(F.cross_entropy(scale * similarity, labels))
    mistake(math.isclose(value, rows, rel_tol=1e-4) and not math.isclose(value, expected, rel_tol=1e-4),
            "clip_loss_by_hand is the image-to-text cross-entropy only (rows).",
            "CLIP averages both directions: pick the caption for each image (rows) and the image for each caption "
            "(columns, logits.T).")
    unscaled = 0.5 * float(F.cross_entropy(similarity, labels) + F.cross_entropy(similarity.T, labels))
    mistake(math.isclose(value, unscaled, rel_tol=1e-4), "clip_loss_by_hand ignores the scale (the temperature).",
            "cosines lie in [-1, 1]; multiply them by scale = exp(t) (1/0.07 at the start) before the softmax.")
    mistake(math.isclose(value, 2 * expected, rel_tol=1e-4), "clip_loss_by_hand adds the two directions.",
            "take their mean: divide the sum by 2.")
    close(value, expected, "clip_loss_by_hand", hint, rtol=1e-4, what="the loss of sdgan_course.losses.clip")
    passed(f"Loss {value:.4f} nats, the library's clip_loss; a random guess among 4 captions would cost "
           f"ln 4 = {math.log(4):.4f}.")
