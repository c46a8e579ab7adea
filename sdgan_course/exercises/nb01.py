"""Checks for the exercises of notebook 01, the landscape: Stable Diffusion's numbers, its misconceptions, one GAN step.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. The numbers of Stable Diffusion v1 are those of its model card
(CompVis/stable-diffusion-v1-4) and of Rombach et al. 2022 (arXiv:2112.10752): an autoencoder with downsampling factor
8 and 4 latent channels. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..data import ring_of_gaussians
from ..losses.gan import discriminator_loss
from ..models.gan import sample_noise
from ..models.toy import ToyDiscriminator, ToyGenerator
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "01_the_landscape"
SD_FACTOR, SD_LATENT_CHANNELS, IMAGE_CHANNELS = 8, 4, 3  # Stable Diffusion v1's autoencoder (f = 8, c = 4), RGB


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def check_latent(latent_shape, compression) -> None:
    """Exercise 1: the latent shape of a 768 x 768 RGB image under Stable Diffusion v1's autoencoder, and how many
    times fewer numbers it holds."""
    hint = ("each side shrinks by the autoencoder's factor 8 and the latent has 4 channels; compression = numbers in "
            "the image (3 x 768 x 768) / numbers in the latent.")
    answer = given(latent_shape, "latent_shape", hint)
    if isinstance(answer, torch.Tensor):  # torch.tensor([4, 96, 96]) counts as three numbers
        answer = answer.tolist()
    expect(isinstance(answer, (tuple, list)), f"latent_shape = {answer!r} should be three numbers in brackets: "
           "(channels, height, width).", hint)
    numbers = [as_number(v, f"latent_shape[{i}]", hint) for i, v in enumerate(answer)]
    shape = tuple(int(v) if v.is_integer() else v for v in numbers)  # (4.0, 96.0, 96.0) is shown as (4, 96, 96)
    ratio = as_number(compression, "compression", hint)
    side = 768 // SD_FACTOR
    expected = (SD_LATENT_CHANNELS, side, side)
    expect(len(shape) == 3, f"latent_shape = {shape} should have three numbers: (channels, height, width).", hint)
    mistake(shape == (SD_LATENT_CHANNELS, 512 // SD_FACTOR, 512 // SD_FACTOR),
            f"latent_shape = {shape} is the latent of a 512 x 512 image.", "the image here is 768 x 768.")
    mistake(shape == (IMAGE_CHANNELS, side, side), f"latent_shape = {shape} keeps the image's 3 colour channels.",
            "the autoencoder's latent has its own number of channels: 4.")
    mistake(shape == (side, side, SD_LATENT_CHANNELS), f"latent_shape = {shape} puts the channels last.",
            "PyTorch's layout is (channels, height, width).")
    expect(shape == expected, f"latent_shape = {shape} is not the latent of a 768 x 768 image.", hint)
    image_numbers, latent_numbers = IMAGE_CHANNELS * 768 * 768, math.prod(expected)
    mistake(math.isclose(ratio, latent_numbers / image_numbers, rel_tol=1e-3),
            f"compression = {ratio:.4g} is upside down: latent / image.", "divide the image's numbers by the latent's.")
    mistake(math.isclose(ratio, SD_FACTOR**2, rel_tol=1e-6), f"compression = {ratio:g} counts positions only.",
            "count channels too: the image has 3 per position, the latent 4.")
    mistake(math.isclose(ratio, IMAGE_CHANNELS * SD_FACTOR**2, rel_tol=1e-6),
            f"compression = {ratio:g} forgets that the latent has 4 channels at each position.",
            "divide by all the latent's numbers, 4 x 96 x 96.")
    close(ratio, image_numbers / latent_numbers, "compression", hint, rtol=1e-6, what="the compression factor")
    passed(f"The latent {expected}: {latent_numbers:,} numbers for the image's {image_numbers:,}, {ratio:.0f} times "
           f"fewer. The factor does not depend on the size: {SD_FACTOR}^2 fewer positions, {IMAGE_CHANNELS} channels "
           f"in and {SD_LATENT_CHANNELS} out, {SD_FACTOR**2} x {IMAGE_CHANNELS} / {SD_LATENT_CHANNELS} = "
           f"{SD_FACTOR**2 * IMAGE_CHANNELS // SD_LATENT_CHANNELS}.")


def check_unet_evaluations(unet_evaluations) -> None:
    """Exercise 2: U-Net evaluations for one image with 30 sampling steps and classifier-free guidance."""
    hint = ("classifier-free guidance needs two noise predictions at every step, one with the prompt and one with the "
            "empty prompt (section 3, item 5); the decoder is a different network.")
    value = as_number(unet_evaluations, "unet_evaluations", hint)
    steps, per_step = 30, 2
    expect(value.is_integer(), f"unet_evaluations = {value:g}: a count of network calls is a whole number.", hint)
    mistake(value == steps, f"unet_evaluations = {value:g} counts one evaluation per step.",
            "with guidance the U-Net runs twice per step: with the prompt and with the empty prompt.")
    mistake(value in (steps + 1, steps * per_step + 1), f"unet_evaluations = {value:g} counts the decoder's pass.",
            "the decoder is not the U-Net: count only the denoiser's evaluations.")
    mistake(value in (1000, 2000), f"unet_evaluations = {value:g} counts the 1000 noise levels the model was trained "
            "on, not the steps a sampler visits.", "this sampler visits 30 of them.")
    mistake(value == 100, "unet_evaluations = 100 is section 3's example, 50 steps x 2.",
            "this sampler takes 30 steps.")
    close(value, steps * per_step, "unet_evaluations", hint, rtol=0, atol=0, what="the number of U-Net evaluations")
    passed(f"{steps} x {per_step} = {steps * per_step} U-Net evaluations (implementations often stack the two into one "
           "batch of 2: one call, the same work), then one decoder pass; a GAN needs one generator pass.")


STATEMENTS_WRONG = {
    "a": ("(a) is wrong: Stable Diffusion is a latent diffusion model. Its U-Net is trained by regression to predict "
          "the noise added to latents, not by a two-player game, and sampling runs it over many denoising steps; the "
          "decoder only turns the final latent into pixels (section 6.1; Rombach et al. 2022, sections 3.2-3.3)."),
    "b": ("(b) is wrong: the 'time' t is the noise level. The same denoiser is applied at every step, sees only the "
          "current latent z_t, the number t and the text, and keeps no hidden state between steps (section 6.2; Ho "
          "et al. 2020, Algorithm 2)."),
    "d": ("(d) is wrong: the text encoder returns one 768-dimensional vector per token, a 77 x 768 matrix, and the "
          "U-Net attends to it through cross-attention (keys and values) at every step; nothing is added to the "
          "noise (section 3, items 2 and 4)."),
    "e": ("(e) is wrong: Stable Diffusion v1 uses CLIP ViT-L/14's text encoder frozen (its model card). The "
          "latent-diffusion paper's own text-to-image model is the one that trained a transformer text encoder "
          "(with a BERT tokenizer) jointly with the U-Net (Rombach et al. 2022, section 4.3.1)."),
}


def check_true_statement(true_statement) -> None:
    """Exercise 3: which of the statements (a)-(e) about Stable Diffusion v1 is true."""
    hint = "reread section 3 (the pipeline, piece by piece) and misconceptions 6.1 and 6.2; exactly one is true."
    answer = given(true_statement, "true_statement", hint)
    letter = str(answer).strip().strip("()").lower()
    expect(letter in "abcde" and len(letter) == 1,
           f"true_statement = {answer!r} should be one letter: 'a', 'b', 'c', 'd' or 'e'.", hint)
    mistake(letter in STATEMENTS_WRONG, STATEMENTS_WRONG.get(letter, ""), "exactly one statement is true; try again.")
    passed("(c): Stable Diffusion's autoencoder was trained first, with a reconstruction, a perceptual (LPIPS) and a "
           "patch-based adversarial loss, and is frozen while the U-Net learns (Rombach et al. 2022, section 3.1). "
           "That autoencoder is where the adversarial idea lives on in Stable Diffusion.")


def check_discriminator_loss(my_discriminator_loss) -> None:
    """Exercise 4: the discriminator's loss on logits, -mean log sigmoid(r) - mean log(1 - sigmoid(f))."""
    hint = ("log D(x) = F.logsigmoid(real_logits), and log(1 - D(G(z))) = log sigmoid(-f) since 1 - sigmoid(f) = "
            "sigmoid(-f); average each term over the batch and mind the minus in front.")
    rng = torch.Generator().manual_seed(0)
    real_logits, fake_logits = 3 * torch.randn(32, generator=rng), 3 * torch.randn(32, generator=rng)  # (32,) each
    got = call(my_discriminator_loss, real_logits, fake_logits, name="my_discriminator_loss", hint=hint)
    expect(isinstance(got, torch.Tensor), "my_discriminator_loss should return a tensor.", hint)
    expected = discriminator_loss("ns", real_logits, fake_logits)
    expect(got.numel() == 1, f"my_discriminator_loss returned shape {tuple(got.shape)}: the loss is one number, the "
           "mean over the batch.", "average each term with .mean().")
    value = float(got)
    sign_slip = -(F.logsigmoid(real_logits).mean() + F.logsigmoid(fake_logits).mean())
    mistake(math.isclose(value, float(sign_slip), rel_tol=1e-4),
            "my_discriminator_loss uses log sigmoid(f) for the fakes: that rewards D for calling them real.",
            "log(1 - sigmoid(f)) = log sigmoid(-f): put a minus inside, F.logsigmoid(-fake_logits).")
    mistake(math.isclose(value, -float(expected), rel_tol=1e-4),
            "my_discriminator_loss has the wrong sign: that is V(D, G), which the discriminator maximises.",
            "the loss to minimise is -V: a minus in front.")
    mistake(math.isclose(value, 32 * float(expected), rel_tol=1e-4), "my_discriminator_loss sums over the batch.",
            "use .mean(), so the loss does not grow with the batch size.")
    mistake(math.isclose(value, float(expected) / 2, rel_tol=1e-4),
            "my_discriminator_loss is half the loss: it averages the two terms (or takes one mean over all 2B logits).",
            "the loss adds the two means: -mean log D(x) - mean log(1 - D(G(z))), each over its own batch.")
    close(got, expected, "my_discriminator_loss", hint, rtol=1e-5, atol=1e-5, what='discriminator_loss("ns", ...)')
    extreme = torch.tensor([-100.0, 100.0])  # (2,): a confident discriminator
    far = call(my_discriminator_loss, extreme, extreme, name="my_discriminator_loss", hint=hint)
    far_value = as_number(far, "my_discriminator_loss(...) for logits of -100 and 100", hint)
    mistake(not math.isfinite(far_value), "my_discriminator_loss is infinite for logits of -100 and 100: "
            "sigmoid(-100) and 1 - sigmoid(100) round to 0, and log 0 = -inf.",
            "use F.logsigmoid, which stays finite, instead of log(sigmoid(.)) or log(1 - sigmoid(.)).")
    close(far, discriminator_loss("ns", extreme, extreme), "my_discriminator_loss", hint, rtol=1e-5,
          what="the loss for logits of -100 and 100")
    passed(f"Your loss equals the library's ({value:.4f} on this batch), and it stays finite for logits of -100 and "
           "100, where log(sigmoid(a)) would round to log 0.")


def check_detach_gradients(has_grad) -> None:
    """Exercise 5: which networks get gradients from the discriminator's loss when .detach() is left out."""
    hint = ("build the loss as in section 4's discriminator step but without .detach(), call .backward(), then look "
            "at p.grad of each network's parameters: a parameter gets a gradient when the loss's graph reaches it.")
    answer = given(has_grad, "has_grad", hint)
    expect(isinstance(answer, (set, frozenset, list, tuple, str)),
           f"has_grad = {answer!r} should be a set of the names 'D' and 'G', such as {{'D'}}.", hint)
    names = {answer} if isinstance(answer, str) else set(answer)
    expect(names <= {"D", "G"}, f"has_grad = {answer!r} should be a set of the names 'D' and 'G'.", hint)
    torch.manual_seed(0)
    g_toy, d_toy = ToyGenerator(z_dim=2, data_dim=2), ToyDiscriminator(data_dim=2)
    rng = torch.Generator().manual_seed(0)
    real = ring_of_gaussians().sample(64, rng=rng)  # (64, 2)
    discriminator_loss("ns", d_toy(real), d_toy(g_toy(sample_noise(64, 2, rng=rng)))).backward()  # no .detach()
    expected = {name for name, net in (("D", d_toy), ("G", g_toy)) if any(p.grad is not None for p in net.parameters())}
    mistake("D" not in names, "the discriminator's loss always reaches D's own parameters.",
            "D(x) and D(G(z)) are computed by D: its parameters are in the graph.")
    mistake(names == {"D"}, "has_grad = {'D'} is what a step *with* .detach() gives; this one has none.",
            "after .backward(), print([p.grad is None for p in g_toy.parameters()]): which part of the graph would "
            ".detach() have cut?")
    expect(names == expected, f"has_grad = {answer!r} is not what the backward pass gives.", hint)
    passed("{'D', 'G'}: without .detach() the D step back-propagates into G as well. opt_d.step() still moves only D, "
           "but the backward pass through G is wasted work, and G's .grad fills with the gradient of D's loss, which "
           "points the way that makes the fakes easier to spot, unless it is zeroed before G's own step. Hence "
           "fake.detach() in the D step.")
