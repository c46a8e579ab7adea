"""Checks for the exercises of notebook 14, flow matching and a transformer denoiser (Stable Diffusion 3 in miniature).

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from ..data.toy import GaussianMixture
from ..models.transformer import MMDiT, MMDiTConfig
from ..sample.flow import heun_step
from ..schedules import FlowSchedule
from ..theory.flow import mixture_velocity
from . import solutions
from .checks import ExerciseError, as_number, call, close, expect, mistake, passed

NOTEBOOK = "14_flow_matching_and_transformers"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _isclose(a, b, rel: float = 1e-9) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=rel)
    except (TypeError, ValueError):
        return False


def _same(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6) -> bool:
    return tuple(a.shape) == tuple(b.shape) and torch.allclose(a.double(), b.double(), atol=atol)


def check_x0_and_eps(velocity_to_x0_eps) -> None:
    """Exercise 1: the clean-image and noise estimates from a velocity on the straight path."""
    hint = ("on the path x_t = (1 - t) x0 + t eps the velocity is v = eps - x0: solve these two equations for x0 and "
            "eps (substitute eps = x0 + v into the first). t has shape (B,): give it the shape (B, 1, 1, 1) before "
            "it meets an image. ex.show('ex1') prints our solution.")
    rng = torch.Generator().manual_seed(0)
    xt = torch.randn(3, 2, 4, 5, generator=rng)  # (B, C, H, W) with B != W, so an unshaped t cannot broadcast
    t = torch.tensor([0.2, 0.5, 0.9])  # (B,)
    v = torch.randn(3, 2, 4, 5, generator=rng)  # (B, C, H, W)
    try:
        got = call(velocity_to_x0_eps, xt.clone(), t.clone(), v.clone(), name="velocity_to_x0_eps", hint=hint)
    except ExerciseError as err:
        cause = err.__cause__
        mistake(isinstance(cause, RuntimeError) and "must match the size" in str(cause),
                f"t has shape (B,) = {tuple(t.shape)} and the images (B, C, H, W) = {tuple(xt.shape)}: multiplied "
                "as they are, torch lines t up with the last axis (W), not with the batch.",
                "reshape t to (B, 1, 1, 1) first, t.view(-1, 1, 1, 1), so that each image gets its own time.")
        raise
    expect(isinstance(got, tuple) and len(got) == 2,
           f"velocity_to_x0_eps should return two tensors, (x0_hat, eps_hat); it returned {type(got).__name__}.",
           hint)
    x0_hat, eps_hat = got
    expect(isinstance(x0_hat, torch.Tensor) and isinstance(eps_hat, torch.Tensor),
           "velocity_to_x0_eps should return two tensors, (x0_hat, eps_hat).", hint)
    schedule = FlowSchedule()
    x0, eps = schedule.to_x0(xt, t, v), schedule.to_eps(xt, t, v)  # (B, C, H, W) each
    tb = t.view(-1, 1, 1, 1)
    mistake(_same(x0_hat, eps) and _same(eps_hat, x0), "velocity_to_x0_eps returns (eps_hat, x0_hat): the right "
            "estimates in the wrong order.", "return x0_hat first, then eps_hat.")
    mistake(_same(x0_hat, xt + tb * v) and _same(eps_hat, xt - (1 - tb) * v),
            "the signs are swapped: x0_hat = x_t + t v and eps_hat = x_t - (1 - t) v walk the wrong way.",
            "v = eps - x0 points from the data towards the noise: the data lie *against* v (x_t - t v), the noise "
            "along it.")
    mistake(_same(x0_hat, xt - (1 - tb) * v) and _same(eps_hat, xt + tb * v),
            "t and 1 - t are swapped: x0_hat = x_t - (1 - t) v, eps_hat = x_t + t v.",
            "x_t is t of the way from x0 to eps, so it is t steps of v from the data and 1 - t from the noise: check "
            "at t = 0, where x_t is the data and x0_hat must equal x_t.")
    close(x0_hat, x0, "x0_hat", hint, atol=1e-5, what="x_t - t v, the library's FlowSchedule.to_x0")
    close(eps_hat, eps, "eps_hat", hint, atol=1e-5, what="x_t + (1 - t) v, the library's FlowSchedule.to_eps")
    rebuilt = (1 - tb) * x0_hat + tb * eps_hat
    passed(f"Both estimates agree with FlowSchedule.to_x0 and to_eps, and they explain x_t: (1 - t) x0_hat + "
           f"t eps_hat gives x_t back (largest difference {(rebuilt - xt).abs().max().item():.1g}), and "
           "eps_hat - x0_hat = v. One velocity holds both estimates; the score is -eps_hat / t.")


HEUN_MIXTURE = GaussianMixture([[-1.0, 0.5], [1.5, -0.5]], [0.3, 0.4], [0.4, 0.6])  # exercise 2's toy data (2-D)


class CountedVelocity:
    """The toy's exact velocity, counting its calls; t may be a float, a 0-d tensor or a (B,) tensor."""

    def __init__(self, mixture: GaussianMixture = HEUN_MIXTURE):
        self.mixture, self.calls = mixture, 0

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        self.calls += 1
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)  # (1,) or (B,)
        return mixture_velocity(self.mixture, x, t.expand(len(x)) if len(t) == 1 else t)  # (B, D) float64


def _heun_variants(v: CountedVelocity, x: torch.Tensor, t: float, t_next: float) -> dict[str, torch.Tensor]:
    """The typical wrong steps, for comparison with the learner's: (B, D) each."""
    h = t_next - t
    v1 = v(x, t)
    euler = x + h * v1
    midpoint = x + h * v(x + 0.5 * h * v1, 0.5 * (t + t_next))
    forward = x - h * v1  # stepping towards the noise: (t - t_next) with the wrong sign
    return {
        "euler": euler,
        "positions": 0.5 * (x + euler),
        "second only": x + h * v(euler, t_next),
        "wrong time": x + h * 0.5 * (v1 + v(euler, t)),
        "midpoint": midpoint,
        "forward": x - h * 0.5 * (v1 + v(forward, t_next)),
        "full heun": x + h * 0.5 * (v1 + v(euler, t_next)),
    }


def check_heun_step(heun_step_by_hand) -> None:
    """Exercise 2: one Heun step of dx/dt = v(x, t) from t to t_next < t, and the Euler rule on the last step."""
    hint = ("take an Euler step to t_next with the velocity at (x, t); evaluate the velocity again at that Euler point "
            "and t_next; then step from x (not from the Euler point) with the average of the two velocities. The step "
            "length t_next - t is negative: time runs from the noise (1) to the data (0). On a step to t_next = 0 "
            "the library keeps the Euler step and skips the second evaluation. ex.show('ex2') prints our solution.")
    rng = torch.Generator().manual_seed(0)
    x = 1.2 * torch.randn(6, 2, generator=rng, dtype=torch.float64)  # (B, D) points at time t
    schedule = FlowSchedule()
    for t, t_next in ((0.75, 0.5), (0.25, 0.0)):
        counted = CountedVelocity()
        got = call(heun_step_by_hand, counted, x.clone(), t, t_next, name="heun_step_by_hand", hint=hint)
        expect(isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(x.shape),
               f"heun_step_by_hand should return the new points, a tensor of shape {tuple(x.shape)}, like x; it "
               f"returned {tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}.", hint)
        got = got.detach().double()
        reference = CountedVelocity()
        expected = heun_step(schedule, reference(x, t), x, t, t_next, velocity_fn=reference).prev  # (B, D)
        variants = _heun_variants(CountedVelocity(), x, t, t_next)
        step = f"from t = {t} to t_next = {t_next}"
        if t_next > 0:
            mistake(_same(got, variants["euler"]), f"heun_step_by_hand {step} takes a plain Euler step.",
                    "Heun's step corrects it: evaluate the velocity at the Euler point and t_next, and step from x "
                    "with the average of the two velocities.")
            mistake(_same(got, variants["positions"]), f"heun_step_by_hand {step} averages the *positions* x and "
                    "the Euler point: half an Euler step, and still first order.",
                    "average the two *velocities* (at x, t and at the Euler point, t_next), then take the whole step "
                    "from x with that average.")
            mistake(_same(got, variants["second only"]), f"heun_step_by_hand {step} steps with the second velocity "
                    "alone.", "use the average of the velocity at (x, t) and the one at the Euler point.")
            mistake(_same(got, variants["wrong time"]), f"heun_step_by_hand {step} evaluates the second velocity at "
                    "the Euler point but at the old time t.", "the Euler point lives at t_next: evaluate it there.")
            mistake(_same(got, variants["midpoint"]), f"heun_step_by_hand {step} is the midpoint method (a half "
                    "step, then the whole step with the velocity there): second order too, but not Heun's step.",
                    "Heun's step averages the velocities at the two ends, (x, t) and (Euler point, t_next).")
            mistake(_same(got, variants["forward"]), f"heun_step_by_hand {step} steps towards the noise: the step "
                    "length has the wrong sign.", "the step length is t_next - t, negative when sampling.")
        else:
            mistake(_same(got, variants["full heun"]) and counted.calls >= 2,
                    f"heun_step_by_hand {step} forgets the last-step rule: it evaluates the velocity at t = 0 and "
                    f"corrects the step ({counted.calls} evaluations where the library makes 1).",
                    "on the step to t_next = 0 keep the Euler step and do not evaluate the velocity again (as Karras "
                    "et al. 2022 and diffusers do): S Heun steps then cost 2S - 1 evaluations.")
        close(got, expected, "heun_step_by_hand", hint, atol=1e-6,
              what=f"the library's heun_step {step} (sdgan_course.sample.flow)")
        needed = 2 if t_next > 0 else 1
        expect(counted.calls == needed, f"heun_step_by_hand {step} gives the library's point but calls velocity_fn "
               f"{counted.calls} times; the step needs {needed}.",
               "every call is a run of the network: compute each velocity once"
               + (" and skip the second one on the step to t = 0 (its result is not used)." if needed == 1 else "."))
    passed("Your step equals the library's heun_step on the toy's exact velocity: 2 evaluations per step and 1 on the "
           "last, so S steps cost 2S - 1. The second evaluation buys a second-order error: halve the step size and the "
           "error falls about four times, against two for Euler.")


DDIM_ALPHA_BAR = 0.36  # exercise 3: sqrt(0.36) = 0.6 and sqrt(0.64) = 0.8, where alpha_bar and sqrt differ


def check_ddim_in_flow(t_flow, scale) -> None:
    """Exercise 3: a diffusion state with alpha_bar = 0.36 as a point of the straight path: its time and scale."""
    hint = ("write the diffusion state as x = alpha x0 + sigma eps with alpha = sqrt(alpha_bar) and sigma = "
            "sqrt(1 - alpha_bar); divide by alpha + sigma, and the weights of x0 and eps add up to 1, as 1 - t and t "
            "do on the straight path.")
    t_flow = as_number(t_flow, "t_flow", hint)
    scale = as_number(scale, "scale", hint)
    ab = DDIM_ALPHA_BAR
    x_flow, t_ref = FlowSchedule.from_diffusion(torch.ones(1, 1, dtype=torch.float64), ab)
    expected_t, expected_scale = float(t_ref), float(x_flow)  # the library's time and factor for x = 1
    alpha, sigma = math.sqrt(ab), math.sqrt(1 - ab)
    rel = 1e-4  # four significant digits are enough
    mistake(_isclose(t_flow, 1 - ab, rel), f"t_flow = {t_flow:g} uses alpha_bar = {ab} and 1 - alpha_bar as the "
            "weights of x0 and eps.", "alpha_bar is the *variance* kept of the data; the weights of x0 and eps are "
            f"the square roots, sqrt({ab}) and sqrt({1 - ab:g}).")
    mistake(_isclose(t_flow, sigma, rel), f"t_flow = {t_flow:g} is sigma, the weight of the noise before the "
            "rescaling.", "after dividing by alpha + sigma the noise's weight is sigma / (alpha + sigma): that is t.")
    mistake(_isclose(t_flow, alpha / (alpha + sigma), rel), f"t_flow = {t_flow:g} is the weight of the *data*, "
            "1 - t.", "t weighs the noise: t = 1 is pure noise.")
    close(t_flow, expected_t, "t_flow", hint, rtol=rel, what="the flow time of this state")
    mistake(_isclose(scale, 1.0, rel), f"scale = {scale:g}: with alpha_bar and 1 - alpha_bar as the weights they "
            "already add up to 1, but those are variances.", f"the weights are sqrt({ab}) and sqrt({1 - ab:g}); "
            "their sum is not 1.")
    mistake(_isclose(scale, alpha + sigma, rel), f"scale = {scale:g} is alpha + sigma; the state is *divided* by it.",
            "scale is the factor the diffusion state is multiplied by: 1 / (alpha + sigma).")
    close(scale, expected_scale, "scale", hint, rtol=rel, what="the factor that turns the state into a flow point")
    passed(f"With alpha = {alpha:g} and sigma = {sigma:g}, x / {alpha + sigma:g} is the flow's point at t = "
           f"{expected_t:.4f} (FlowSchedule.from_diffusion agrees). One deterministic DDIM step between two such "
           "states is one Euler step of the flow between their times: notebook 10's DDIM and this notebook's Euler "
           "sampler solve the same ODE.")


def logit_normal_share(low: float = 0.25, high: float = 0.75, *, mean: float = 0.0, std: float = 1.0) -> float:
    """P(low < t < high) for t = sigmoid(u), u ~ N(mean, std^2): the normal CDF at the interval's logits."""
    def cdf(z: float) -> float:
        return 0.5 * (1 + math.erf((z - mean) / (std * math.sqrt(2))))

    return cdf(math.log(high / (1 - high))) - cdf(math.log(low / (1 - low)))


def check_logit_normal_share(share_logit_normal, share_uniform) -> None:
    """Exercise 4: the share of training times in (0.25, 0.75) under SD3's logit-normal(0, 1) and under uniform."""
    hint = ("t = sigmoid(u) lies in (0.25, 0.75) exactly when u lies between logit(0.25) and logit(0.75), logit(p) "
            "= ln(p / (1 - p)); u is standard normal, and Phi(z) = (1 + erf(z / sqrt(2))) / 2. Or integrate "
            "FlowSchedule().t_density over the interval (torch.trapezoid), or draw many times with draw_t.")
    share = as_number(share_logit_normal, "share_logit_normal", hint)
    uniform = as_number(share_uniform, "share_uniform", hint)
    t = torch.linspace(0.25, 0.75, 20_001, dtype=torch.float64)
    integrated = float(torch.trapezoid(FlowSchedule().t_density(t), t))  # the library's density, integrated
    closed = logit_normal_share()
    expect(abs(integrated - closed) < 1e-6, "internal: the logit-normal density and its CDF disagree.")
    tol = 0.01
    mistake(abs(share - 0.5) < tol, f"share_logit_normal = {share:g} is the *uniform* share of (0.25, 0.75).",
            "the logit-normal piles the times up in the middle: its share of the middle half is larger than 0.5.")
    mistake(abs(share - (1 - closed)) < tol, f"share_logit_normal = {share:g} is the share *outside* (0.25, 0.75).",
            "count the times inside the interval: 1 minus your number.")
    normal_on_t = 0.5 * (math.erf(0.75 / math.sqrt(2)) - math.erf(0.25 / math.sqrt(2)))
    mistake(abs(share - normal_on_t) < tol, f"share_logit_normal = {share:g} puts t itself into the normal CDF.",
            "the normal variable is u = logit(t): evaluate Phi at logit(0.25) and logit(0.75).")
    one_tail = 0.5 * math.erf(math.log(3) / math.sqrt(2))
    mistake(abs(share - one_tail) < tol, f"share_logit_normal = {share:g} is Phi(ln 3) - 1/2: one half of the "
            "interval only.", "the interval is symmetric about u = 0: Phi(ln 3) - Phi(-ln 3) = 2 Phi(ln 3) - 1.")
    close(share, closed, "share_logit_normal", hint, rtol=0, atol=tol,
          what=f"the logit-normal's share (within {tol})")
    mistake(abs(uniform - closed) < tol, "share_uniform equals the logit-normal's share.",
            "under the uniform density every interval's share is its length.")
    close(uniform, 0.5, "share_uniform", hint, rtol=0, atol=tol, what=f"the uniform share (within {tol})")
    passed(f"A share of {closed:.4f} of SD3's training times falls in the middle half of the path, against 0.5 for "
           f"uniform times: the logit-normal trains about {closed / 0.5:.2f} times as often there, where the velocity "
           "is hardest to predict, and seldom near t = 0 and t = 1.")


SD3_IMAGE_SIDE, SD3_DOWNSAMPLE, SD3_LATENT_CHANNELS, SD3_PATCH = 1024, 8, 16, 2  # Esser et al. 2024 (see exercise 5)
SD3_CLIP_TOKENS, SD3_T5_TOKENS = 77, 77  # the paper's context, 154 x 4096: the CLIPs side by side, then T5
DIFFUSERS_T5_TOKENS = 256  # diffusers' StableDiffusion3Pipeline default max_sequence_length


def sd3_image_tokens() -> int:
    """Image tokens of a 1024 x 1024 image, read off the library's patchify (a narrow MMDiT with SD3's 16 latent
    channels and 2 x 2 patches; the token count does not depend on the width)."""
    side = SD3_IMAGE_SIDE // SD3_DOWNSAMPLE  # 128
    model = MMDiT(MMDiTConfig(in_channels=SD3_LATENT_CHANNELS, context_dim=8, width=8, depth=1, num_heads=2,
                              patch_size=SD3_PATCH))
    with torch.no_grad():
        tokens = model.patchify(torch.zeros(1, SD3_LATENT_CHANNELS, side, side)).flatten(2)  # (1, D, N)
    return tokens.shape[-1]


def check_joint_attention(image_tokens, text_tokens, attention_weights) -> None:
    """Exercise 5: SD3's joint attention at 1024 x 1024: image tokens, text tokens, attention weights per head."""
    hint = ("the autoencoder shrinks each side 8 times; the transformer cuts the latent into 2 x 2 patches, one token "
            "each (its channels become the token's width, not more tokens). The two CLIP encoders' outputs sit side "
            "by side in the channels, and T5's follow in the sequence. In joint attention every token, image or "
            "text, attends to every token.")
    n = as_number(image_tokens, "image_tokens", hint)
    length = as_number(text_tokens, "text_tokens", hint)
    weights = as_number(attention_weights, "attention_weights", hint)
    for value, name in ((n, "image_tokens"), (length, "text_tokens"), (weights, "attention_weights")):
        expect(value.is_integer() and value > 0, f"{name} should be a whole, positive count, got {value:g}.", hint)
    expected_n = sd3_image_tokens()  # 4096
    side = SD3_IMAGE_SIDE // SD3_DOWNSAMPLE
    mistake(_isclose(n, side * side), f"image_tokens = {n:,.0f} is one token per latent pixel: the 2 x 2 patches "
            "are forgotten.", f"each 2 x 2 patch of the {side} x {side} latent is one token.")
    mistake(_isclose(n, side // SD3_PATCH), f"image_tokens = {n:,.0f} is the side of the grid of patches.",
            "the tokens fill the whole grid: side x side.")
    mistake(_isclose(n, side * side * SD3_LATENT_CHANNELS),
            f"image_tokens = {n:,.0f} is the latent's numbers (128 x 128 x 16), or equally 2 x 2 patches of the "
            "1024 x 1024 pixels.", "the patches are cut from the latent (1024 / 8 = 128 a side), and its 16 "
            "channels go into each token's width.")
    close(n, expected_n, "image_tokens", hint, rtol=0, atol=0, what="the number of image tokens")
    expected_l = SD3_CLIP_TOKENS + SD3_T5_TOKENS  # 154
    mistake(_isclose(length, SD3_CLIP_TOKENS + DIFFUSERS_T5_TOKENS),
            f"text_tokens = {length:.0f} is what diffusers' StableDiffusion3Pipeline gives by default (T5's "
            f"max_sequence_length = {DIFFUSERS_T5_TOKENS}); the paper's model reads {SD3_T5_TOKENS} T5 tokens.",
            "use the paper's numbers, as the exercise says.")
    mistake(_isclose(length, 3 * SD3_CLIP_TOKENS), f"text_tokens = {length:.0f} counts the two CLIP encoders as "
            "two sequences.", "their outputs (77 x 768 and 77 x 1280) are put side by side in the channels: "
            "together 77 tokens.")
    mistake(_isclose(length, SD3_CLIP_TOKENS), f"text_tokens = {length:.0f} leaves out T5.",
            "T5's 77 tokens follow the CLIP tokens in the sequence.")
    close(length, expected_l, "text_tokens", hint, rtol=0, atol=0, what="the paper's number of text tokens")
    total = expected_n + expected_l
    mistake(_isclose(weights, expected_n**2), f"attention_weights = {weights:,.0f} counts only the image tokens.",
            "in joint attention the text tokens are queries and keys too: N + L tokens in one attention.")
    mistake(_isclose(weights, expected_n * total), f"attention_weights = {weights:,.0f} lets only the image tokens "
            "ask (N x (N + L)), as in a one-way cross-attention.", "the text tokens are updated by the image in "
            "turn: they are queries too.")
    mistake(_isclose(weights, expected_n**2 + expected_l**2), f"attention_weights = {weights:,.0f} is two separate "
            "self-attentions, one per modality.", "joint attention also has the cross terms: one (N + L) x (N + L) "
            "map.")
    mistake(weights > total**2 and _isclose(weights / total**2, round(weights / total**2)),
            f"attention_weights = {weights:,.0f} is {weights / total**2:.0f} times the map of one head.",
            "count one head of one block.")
    close(weights, total**2, "attention_weights", hint, rtol=0, atol=0, what="the weights of one head in one block")
    passed(f"There are {expected_n:,} image tokens and {expected_l} text tokens: {total:,}^2 = {total**2:,} weights "
           f"per head per block, of which the text's own share is {expected_l**2 / total**2:.2%}. The image tokens "
           "set the cost, and they grow as the fourth power of the side: twice the resolution, about 16 times the "
           "map.")
