"""Build notebooks/01_the_landscape.ipynb (run from anywhere; then render it with tools/render_notebooks.py).

The two diagrams come from tools/draw_diagrams.py, which also draws their PNG fallbacks in notebooks/figures/.
"""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("01_the_landscape")
md, code = nb.md, nb.code

from draw_diagrams import GAN_LOOP, SD_PIPELINE, mermaid_block  # noqa: E402 (tools/ is put on the path above)


def diagram(d, alt: str) -> str:
    """A Mermaid block with its PNG fallback right under it (for viewers that do not render Mermaid)."""
    return f"{mermaid_block(d)}\n\n![{alt}](figures/{d.name}.png)"


md(r"""
# 01 · The landscape

Before we build anything, let us look at the whole map. This notebook compares the four families of image generators
the course covers — **GANs, VAEs, diffusion models and latent diffusion models** — says what each one learns and how
it produces a picture, and then opens up **Stable Diffusion** to show what it really is. It ends by correcting, one by
one, the misconceptions that circulate widely on the web (and in the material many learners arrive with), each with a
source you can check and, where code helps, a few lines that prove the point.

This notebook is mostly prose and pictures; the code is short and everything it uses comes from the course library.

## Goals

- say what a **generative model** is, and what "learning a distribution" means;
- compare **GANs, VAEs, diffusion and latent diffusion**: what each learns, how it samples, what it is good and bad at;
- describe **Stable Diffusion's real pipeline** — CLIP text encoder, U-Net denoiser with cross-attention in a
  4 × 64 × 64 latent space, classifier-free guidance, VAE decoder — with the right numbers;
- draw the **GAN training loop**: a discriminator step on real and detached fake data, then a generator step, with
  two separate optimisers — and run one iteration of it;
- recognise and correct **nine common misconceptions**, with sources;
- place **DALL-E, CLIP and NeRF** on the map.

## Prerequisites

Notebook 00 (set-up and data). Basic probability: a distribution, a density, an expectation $\mathbb{E}[\cdot]$. What a
neural network and a loss are, and one training loop in PyTorch. No GAN or diffusion knowledge is assumed.

## Time

| profile | what runs | time |
|---|---|---|
| `ci` | every cell, small batches | under 30 s of computing |
| `cpu` | every cell, larger batches | about 20 minutes of reading, seconds of computing |
| `gpu` | the same as `cpu` | about 20 minutes of reading, seconds of computing |
""")

code(
    colab_setup_source()
    + r'''
import copy
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from sdgan_course.config import data_config, get_profile
from sdgan_course.data import load_images, ring_of_gaussians
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.gan import GANConfig, ToyDiscriminator, ToyGenerator, build_gan, sample_noise
from sdgan_course.losses import discriminator_loss, generator_loss
from sdgan_course.metrics import ssim
from sdgan_course.train import gan_train_step, make_gan_optimizers
from sdgan_course.viz import show_images

T0 = time.perf_counter()
PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
BATCH = {"ci": 64, "cpu": 256, "gpu": 256}[PROFILE]
# The demonstrations here are a few forward and backward passes of small networks: they run on the CPU everywhere.
print(f"profile {PROFILE} | device {describe_device(DEVICE)} (this notebook computes on the CPU) | batch {BATCH}")
''')

md(r"""
## 1. What is a generative model?

Think of a dataset — 60,000 pictures of clothes — as samples drawn from an unknown probability distribution
$p_{data}(x)$ over all possible 28 × 28 images. Almost all of the $256^{784}$ possible images are noise; the
distribution puts its mass on a thin, structured set of images that look like garments. A **generative model** is a
model $p_\theta$, fitted to the samples, that we can **draw new samples from**: images that were not in the dataset
but could have been. Some families can also **evaluate** the probability (or a bound on it) of a given image; all the
families in this course can sample.

A **conditional** generative model learns $p_\theta(x \mid c)$: an image given a class label ("a sneaker") or given a
text prompt. Text-to-image generation, Stable Diffusion included, is exactly that: sampling from
$p_\theta(\text{image} \mid \text{prompt})$. Contrast this with a **discriminative** model, such as a classifier,
which learns $p(y \mid x)$: the label given the image.

Why is this hard? Because the pixels of an image depend on each other. Here is the simplest "generative model" one
could write down: give every pixel its own Gaussian, with the mean and standard deviation of that pixel over all the
sneakers. Each pixel's mean and spread are right — and the samples look nothing like sneakers, because the model
knows nothing about which pixels go together. Every model in this course is, at heart, a way to learn those
dependencies.
""")

code(r'''
cfg = data_config()
data = load_images("fashion_mnist", "train", limit=cfg.train_limit)
sneakers = data.images[data.labels == data.class_names.index("Sneaker")]  # (N, 1, 28, 28) in [-1, 1]
mu, sigma = sneakers.mean(dim=0), sneakers.std(dim=0)  # (1, 28, 28) each: one Gaussian per pixel
naive = (mu + sigma * torch.randn(16, 1, 28, 28, generator=GEN)).clamp(-1, 1)  # (16, 1, 28, 28)
assert naive.shape == (16, 1, 28, 28) and naive.min() >= -1 and naive.max() <= 1

fig, axes = plt.subplots(2, 1, figsize=(8, 4.8))
show_images(sneakers[:16], nrow=8, ax=axes[0], title="real sneakers")
show_images(naive, nrow=8, ax=axes[1], title="one Gaussian per pixel: right statistics, wrong images")
plt.show()


def neighbour_correlation(images):
    """Mean correlation, across images, between each pixel and its right-hand neighbour (where both vary)."""
    left, right = images[:, 0, :, :-1].flatten(1), images[:, 0, :, 1:].flatten(1)  # (N, 28*27) each
    left, right = left - left.mean(0), right - right.mean(0)
    keep = (left.std(0) > 1e-3) & (right.std(0) > 1e-3)
    corr = (left * right).mean(0)[keep] / (left.std(0, unbiased=False) * right.std(0, unbiased=False))[keep]
    return corr.mean().item()


naive_all = (mu + sigma * torch.randn(sneakers.shape, generator=GEN)).clamp(-1, 1)  # as many as the real ones
corr_real, corr_naive = neighbour_correlation(sneakers), neighbour_correlation(naive_all)
assert corr_real > 0.5 and abs(corr_naive) < 0.1, (corr_real, corr_naive)
print(f"{len(sneakers)} sneakers. Correlation between neighbouring pixels: real {corr_real:.2f}, "
      f"independent-pixel model {corr_naive:.2f}")
''')

md(r"""
## 2. Four families side by side

### Generative adversarial networks (GANs)

Goodfellow et al. 2014 (arXiv:1406.2661). A **generator** $G$ maps a noise vector $z \sim p_z = \mathcal{N}(0, I)$ to
an image $G(z)$; a **discriminator** $D$ outputs the probability that its input is real rather than generated. They
play a two-player game with value function

$$
\min_G \max_D \; V(D, G) = \mathbb{E}_{x \sim p_{data}}\big[\log D(x)\big] + \mathbb{E}_{z \sim p_z}\big[\log(1 - D(G(z)))\big].
$$

$G$ never sees a training image: it learns only through the gradient of $D$'s judgement. Sampling is **one forward
pass** of $G$ — milliseconds. The price is training: a game, not a minimisation, which can oscillate, diverge or
**collapse** onto a few modes of the data, and no likelihood to monitor. Notebooks 02–07 are about making this work.

### Variational autoencoders (VAEs)

Kingma and Welling 2013 (arXiv:1312.6114). An **encoder** $q_\phi(z \mid x)$ maps an image to a distribution over a
latent code $z$; a **decoder** $p_\theta(x \mid z)$ maps a code back to an image. Both are trained together to
maximise the evidence lower bound (ELBO) on $\log p_\theta(x)$:

$$
\log p_\theta(x) \;\ge\; \mathbb{E}_{q_\phi(z \mid x)}\big[\log p_\theta(x \mid z)\big] - \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big).
$$

Sampling: draw $z \sim \mathcal{N}(0, I)$ and decode — one forward pass. Training is a plain, stable minimisation,
and you get an encoder and a likelihood bound for free. The classic weakness is **blurry samples**: with a simple
pixel likelihood (a Gaussian, i.e. a squared error) the decoder hedges between plausible images by averaging them.
Notebook 08.

### Diffusion models

Sohl-Dickstein et al. 2015 (arXiv:1503.03585); Ho, Jain and Abbeel 2020, *DDPM* (arXiv:2006.11239). Fix a **forward
process** that gradually adds Gaussian noise to an image over $T$ steps (DDPM: $T = 1000$), until nothing but noise
is left. At noise level $t$ it has a closed form,
$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$ with $\epsilon \sim \mathcal{N}(0, I)$. Then
train **one network** $\epsilon_\theta(x_t, t)$ to predict the noise that was added — a plain regression (DDPM's
simplified loss, Eq. 14):

$$
L_{simple} = \mathbb{E}_{x_0,\, t,\, \epsilon}\Big[\big\| \epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon,\; t\big) \big\|^2\Big].
$$

Sampling runs the process backwards: start from pure noise $x_T \sim \mathcal{N}(0, I)$ and apply the denoiser
**many times**, each step removing a little noise (DDPM uses all 1000 steps; DDIM, Song et al. 2020,
arXiv:2010.02502, gets good images in 50 or fewer). Training is stable, the samples are diverse (no mode collapse)
and very high quality — Dhariwal and Nichol 2021 (arXiv:2105.05233) showed diffusion beating the best GANs on
ImageNet — and the sampler is easy to steer, for instance with classifier-free guidance (Ho and Salimans 2022,
arXiv:2207.12598). The price is **sampling cost**: tens to thousands of network evaluations per image, each on a
full-resolution image. Notebooks 09–10.

### Latent diffusion models

Rombach et al. 2022 (arXiv:2112.10752) — the paper behind Stable Diffusion. Do diffusion **in the latent space of a
pretrained autoencoder** instead of on pixels. First, an autoencoder learns to compress an image into a much smaller
latent $z = \mathcal{E}(x)$ and to decode it back, $x \approx \mathcal{D}(z)$; it is trained with a reconstruction
loss, a **perceptual loss** and a **patch-based adversarial loss** (a GAN discriminator judging image patches), plus a
small KL (or vector-quantisation) penalty. Then a diffusion model is trained on the latents, with a U-Net that can
attend to a condition such as text through **cross-attention**. Sampling: diffusion in latent space, then **one**
decoder pass. Each denoising step is far cheaper than in pixel space, which made high-resolution text-to-image
generation affordable. The weak points: still many steps, two models to train, and the decoder caps the detail (fine
text, small faces). Notebook 11.

### The comparison in one table

| | GAN | VAE | diffusion (DDPM) | latent diffusion (Stable Diffusion) |
|---|---|---|---|---|
| **what it learns** | a generator $G(z)$, judged by a discriminator $D$ | an encoder $q_\phi(z \mid x)$ and a decoder $p_\theta(x \mid z)$ | a noise predictor $\epsilon_\theta(x_t, t)$ | an autoencoder, then a noise predictor $\epsilon_\theta(z_t, t, c)$ on its latents |
| **training objective** | a two-player game (minimax) | maximise the ELBO | regression: predict the added noise | autoencoder losses (incl. adversarial), then the same regression in latent space |
| **how it samples** | $x = G(z)$, $z \sim \mathcal{N}(0, I)$ | $x = \text{decoder}(z)$, $z \sim \mathcal{N}(0, I)$ | start at noise, denoise step by step | denoise a latent step by step, decode once |
| **network evaluations per sample** | 1 | 1 | 1000 (DDPM), ~10–100 (DDIM and later) | ~20–50 U-Net steps (×2 with guidance) + 1 decoder pass |
| **likelihood** | none | a lower bound | a lower bound | a bound on the latents |
| **strengths** | fast sampling, sharp images | stable training, an encoder, smooth latent space | stable training, diversity, quality, easy conditioning and guidance | all of diffusion's, at a fraction of the cost; text conditioning |
| **weaknesses** | unstable training, mode collapse, no likelihood | blurry samples | slow sampling, costly at high resolution | still iterative; quality capped by the decoder |
| **in this course** | 02–07 | 08 | 09–10 | 11 |

GANs did not disappear: they remain the fastest samplers, they were scaled to text-to-image as well (GigaGAN, Kang et
al. 2023, arXiv:2303.05511), and — as we will see — an adversarial loss sits inside Stable Diffusion's own
autoencoder. Notebook 12 compares the families on the same data.
""")

md(
    r"""
## 3. What Stable Diffusion really is

Stable Diffusion (version 1, released in 2022 by the CompVis group with Stability AI, Runway and LAION, following
Rombach et al. 2022, arXiv:2112.10752) is a **latent diffusion model**. Here is how it turns a prompt into a 512 × 512 image:

"""
    + diagram(SD_PIPELINE, "Stable Diffusion v1 pipeline: prompt, CLIP text encoder, U-Net denoiser in latent space "
              "with cross-attention and classifier-free guidance, VAE decoder, 512 x 512 image")
    + r"""

In the picture, indigo boxes are pretrained networks that stay frozen, the blue one is the network the diffusion
stage trains, and amber boxes have no learned parameters. Piece by piece:

1. **Tokenizer.** The prompt is split into byte-pair-encoded tokens and padded (or truncated) to **77 tokens**, the
   context length of CLIP's text transformer.
2. **Text encoder.** The text transformer of **CLIP ViT-L/14** (Radford et al. 2021, arXiv:2103.00020), about 123M
   parameters, **frozen**: it is taken pretrained from CLIP and never trained by Stable Diffusion. Its output is not
   one vector for the whole prompt but **one 768-dimensional vector per token: a 77 × 768 matrix** $c$.
3. **Latent space.** The image never appears during denoising. Sampling starts from Gaussian noise
   $z_T \sim \mathcal{N}(0, I)$ of shape **4 × 64 × 64**: 4 channels, and 64 = 512 / 8 because the autoencoder
   **downsamples by a factor of 8** in each direction.
4. **U-Net denoiser.** A U-Net (Ronneberger et al. 2015, arXiv:1505.04597) of about **860M parameters** predicts the
   noise $\epsilon_\theta(z_t, t, c)$ in the current latent $z_t$. It receives the noise level $t$ through an
   embedding, and the text through **cross-attention** layers at several resolutions: the queries come from the image
   features, the keys and values from the 77 × 768 token embeddings (attention as in Vaswani et al. 2017,
   arXiv:1706.03762). This is how each region of the image can "look up" the words that concern it.
5. **Classifier-free guidance** (Ho and Salimans 2022, arXiv:2207.12598). At every step the U-Net runs twice: with
   the prompt ($\epsilon_c$) and with the empty prompt ($\epsilon_\varnothing$). The step uses
   $\epsilon_\varnothing + s\,(\epsilon_c - \epsilon_\varnothing)$ with a guidance scale $s > 1$ (7.5 is the usual
   default), which pushes the sample towards the prompt. One network can do both because, during training, the
   caption was dropped (replaced by the empty prompt) 10% of the time in the later v1 checkpoints.
6. **Sampler.** A sampler such as DDIM (Song et al. 2020) or PLMS uses the guided noise estimate to move from $z_t$ to
   a slightly less noisy latent. The model was trained on 1000 noise levels; sampling typically visits 20–50 of them.
7. **Decoder.** After the last step, the autoencoder's decoder turns the 4 × 64 × 64 latent $z_0$ into a
   **3 × 512 × 512** image — once.

And the **adversarial idea** lives on in step 7: the autoencoder (a KL-regularised "VAE" with downsampling factor 8 and
4 latent channels) was trained beforehand with a reconstruction loss, a perceptual loss (LPIPS, Zhang et al. 2018,
arXiv:1801.03924) and a **patch-based adversarial loss** (as in VQGAN, Esser et al. 2021, arXiv:2012.09841), and is
then frozen. During the diffusion model's training its encoder maps each training image to a latent, noise is added,
and the U-Net learns to predict that noise given the caption — the regression of section 2, on latents. It was
trained on image–caption pairs from subsets of LAION-5B (Schuhmann et al. 2022, arXiv:2210.08402), first at
256 × 256 and then at 512 × 512.

The numbers are worth a few lines of arithmetic:
"""
)

code(r'''
IMAGE_SIZE, FACTOR, LATENT_CHANNELS = 512, 8, 4  # Stable Diffusion v1 (Rombach et al. 2022, arXiv:2112.10752)
TOKENS, TOKEN_DIM = 77, 768  # CLIP ViT-L/14 text encoder output
STEPS = 50  # a typical number of sampling steps

latent_shape = (LATENT_CHANNELS, IMAGE_SIZE // FACTOR, IMAGE_SIZE // FACTOR)
image_numbers = 3 * IMAGE_SIZE * IMAGE_SIZE
latent_numbers = math.prod(latent_shape)
assert latent_shape == (4, 64, 64)
assert image_numbers // latent_numbers == 48  # the latent holds 48 times fewer numbers than the image
positions_ratio = IMAGE_SIZE**2 // (IMAGE_SIZE // FACTOR) ** 2
assert positions_ratio == 64

print(f"image  : 3 x {IMAGE_SIZE} x {IMAGE_SIZE} = {image_numbers:,} numbers")
print(f"latent : {' x '.join(map(str, latent_shape))} = {latent_numbers:,} numbers "
      f"({image_numbers // latent_numbers}x fewer)")
print(f"text   : {TOKENS} tokens x {TOKEN_DIM} = {TOKENS * TOKEN_DIM:,} numbers, attended to by the U-Net")
print(f"spatial positions: {positions_ratio}x fewer; attention over them, whose cost grows with the square of "
      f"their number, {positions_ratio**2:,}x cheaper")
print(f"U-Net evaluations for one image: {STEPS} steps x 2 (guidance) = {2 * STEPS}; a GAN needs 1 generator pass")
''')

md(
    r"""
## 4. The GAN training loop

A GAN is trained by **alternating** two updates, each with **its own optimiser** (Goodfellow et al. 2014, Algorithm 1,
with one discriminator step per generator step, as in their experiments):

"""
    + diagram(GAN_LOOP, "GAN training loop: discriminator step on real and detached fake data with opt_D, then "
              "generator step through D with opt_G")
    + r"""

1. **Discriminator step.** Generate fakes, and show $D$ a real batch (target "real") and the fakes (target "fake").
   The fakes pass through `.detach()`, which cuts the graph: the discriminator's loss sends no gradient into $G$.
   Only `opt_D` steps.
2. **Generator step.** Score fakes with the just-updated $D$ — not detached this time, so the gradient of the
   generator's loss flows *through* $D$ back into $G$ — and step only `opt_G`. $D$'s parameters receive gradients
   too, but nobody applies them (the next discriminator step clears them).

The generator's loss here is the **non-saturating** one, $-\mathbb{E}_{z \sim p_z}[\log D(G(z))]$ (Goodfellow et al.
2014, Section 3): $G$ maximises the probability that $D$ mistakes its samples for real ones. Below is one iteration
written out in plain PyTorch on a 2-D toy problem, with checks of who changed, and then the proof that the library's
`gan_train_step` (used from notebook 02 on) does exactly the same thing.
""")

code(r'''
ring = ring_of_gaussians()  # 8 Gaussians on a circle (notebook 00)
Z_DIM = 2
torch.manual_seed(0)
G, D = ToyGenerator(z_dim=Z_DIM, data_dim=2), ToyDiscriminator(data_dim=2)
G_lib, D_lib = copy.deepcopy(G), copy.deepcopy(D)  # identical twins for the library's step
opt_g, opt_d = make_gan_optimizers(G, D)  # two separate Adam optimisers
real = ring.sample(BATCH, generator=GEN)  # (B, 2), x ~ p_data


def snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def changed(before, model):
    return any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


g_before, d_before = snapshot(G), snapshot(D)

# ---- 1. discriminator step: real vs detached fake, only opt_d steps
z = sample_noise(BATCH, Z_DIM, generator=torch.Generator().manual_seed(1))  # (B, Z), z ~ p_z
fake = G(z)  # (B, 2)
loss_d = discriminator_loss("ns", D(real), D(fake.detach()))  # BCE: real -> 1, fake -> 0 (on logits)
opt_d.zero_grad(set_to_none=True)
loss_d.backward()
opt_d.step()
assert changed(d_before, D) and not changed(g_before, G)
assert all(p.grad is None for p in G.parameters()), ".detach() keeps the D loss away from G"
d_after_d_step = snapshot(D)

# ---- 2. generator step: the same fakes, not detached; gradients flow through D, only opt_g steps
loss_g = generator_loss("ns", D(fake))  # -E[log D(G(z))], non-saturating
opt_g.zero_grad(set_to_none=True)
loss_g.backward()
opt_g.step()
assert changed(g_before, G) and not changed(d_after_d_step, D)
assert all(p.grad is not None for p in D.parameters()), "D got gradients in the G step, but opt_d did not use them"
print(f"one iteration: loss_D = {loss_d.item():.4f}, loss_G = {loss_g.item():.4f}; D changed only in step 1, "
      f"G only in step 2")

# ---- the library's step, from the same start, the same batch and the same noise, lands on the same parameters
opt_g_lib, opt_d_lib = make_gan_optimizers(G_lib, D_lib)
stats = gan_train_step(G_lib, D_lib, opt_g_lib, opt_d_lib, real, loss="ns", z_dim=Z_DIM,
                       noise_generator=torch.Generator().manual_seed(1))
for mine, lib in zip([*G.parameters(), *D.parameters()], [*G_lib.parameters(), *D_lib.parameters()], strict=True):
    assert torch.allclose(mine, lib, atol=1e-6)
assert abs(stats["loss_d"] - loss_d.item()) < 1e-5 and abs(stats["loss_g"] - loss_g.item()) < 1e-5
print(f"gan_train_step gives the same parameters; its stats: { {k: round(v, 4) for k, v in stats.items()} }")
''')

md(r"""
## 5. Where DALL-E, CLIP and NeRF fit

These three names often appear next to GANs and Stable Diffusion, and often in the wrong place.

**DALL-E** (Ramesh et al. 2021, arXiv:2102.12092) is neither a GAN nor a diffusion model. A **discrete VAE**
compresses each 256 × 256 image into a 32 × 32 grid of image tokens (a vocabulary of 8192); a 12-billion-parameter
**autoregressive transformer** then models the caption's tokens followed by the 1024 image tokens, one token at a
time, like a language model. Many candidate images are sampled for a prompt and **reranked with CLIP**. (Its successor
DALL-E 2, Ramesh et al. 2022, arXiv:2204.06125, switched to diffusion, generating from CLIP image embeddings.)

**CLIP** (Radford et al. 2021, arXiv:2103.00020) generates nothing. It is a pair of encoders, one for images and one
for text, trained contrastively on 400 million image–text pairs so that an image and its caption land close together.
It *scores* how well a picture matches a text — which is why DALL-E uses it to rerank — and Stable Diffusion v1 uses
its (frozen) text encoder to turn the prompt into the 77 × 768 embeddings its U-Net attends to.

**NeRF** (Mildenhall et al. 2020, arXiv:2003.08934) is not an image generator in this sense at all. It fits one
network to **one scene**, from photographs with known camera positions: the network maps a 3-D position and a viewing
direction to a volume density and a view-dependent colour, and **volume rendering** along camera rays turns that
radiance field into new views of the same scene. It renders unseen viewpoints; it does not invent new scenes.
""")

md(r"""
## 6. Common misconceptions, corrected

Each item states a claim that is common on the web, corrects it, and gives the source. Where a few lines of code make
the point, they follow — and they assert, so they fail loudly if the point were wrong.

### 6.1 "Stable Diffusion is a GAN."

**Correction.** Stable Diffusion is a **latent diffusion model**: a variational autoencoder compresses images
(downsampling factor 8, 4 latent channels), a U-Net denoiser with cross-attention to text runs the reverse diffusion
in that latent space, and a frozen CLIP ViT-L/14 text encoder turns the prompt into a sequence of token embeddings
(77 × 768) that the U-Net attends to. It is trained with a regression loss (predict the noise), not a two-player game,
and it samples in many denoising steps, not one generator pass. The adversarial idea survives in one place: its
autoencoder was trained with a perceptual and a patch-based adversarial loss (section 3).

**Sources.** Rombach et al. 2022, arXiv:2112.10752 (Sections 3.1–3.3); Ho et al. 2020, arXiv:2006.11239.

### 6.2 "Latent diffusion uses a recurrent network to generate a time series."

**Correction.** There is no recurrent network and no time series. The "time" $t$ of a diffusion model is the
**noise level**: $t = 1, \dots, T$ indexes how much Gaussian noise has been mixed into the (latent) image. Sampling
applies **the same denoiser** at every step, telling it the current $t$ through an embedding; the network keeps no
hidden state from one step to the next — each call sees only the current noisy latent $z_t$, the number $t$ and the
text. The steps are iterations of a numerical sampler (DDPM, DDIM, ...) that refines **one** image, not elements of a
sequence. The denoiser is a convolutional U-Net with attention layers.

**Sources.** Ho et al. 2020, arXiv:2006.11239 (Algorithms 1 and 2; Section 4: one U-Net whose parameters are shared
across all noise levels, with $t$ given to it by the Transformer's sinusoidal position embedding); Song et al. 2020,
arXiv:2010.02502; Rombach et al. 2022, arXiv:2112.10752.

### 6.3 "The generator loss is $-\mathbb{E}_{x \sim p_{data}}[\log D(G(x))]$."

**Correction.** The generator's input is **noise**, so its loss is an expectation over $z \sim p_z$:

$$L_G = -\mathbb{E}_{z \sim p_z}\big[\log D(G(z))\big] \quad \text{(the non-saturating form).}$$

Feeding real images to $G$ is not even well-typed — $G$ takes a noise vector, not an image — and a loss averaged over
real data $x \sim p_{data}$ alone, such as $-\log D(x)$, does not involve $G$ at all, so its gradient with respect to
$G$'s parameters is zero: it cannot teach the generator anything.

**Source.** Goodfellow et al. 2014, arXiv:1406.2661, Eq. (1) and Section 3.
""")

code(r'''
gan_cfg = GANConfig.preset(PROFILE, arch="mlp")  # the MLP generator and discriminator of notebook 03
G_img, D_img = build_gan(gan_cfg)

z = sample_noise(BATCH, gan_cfg.z_dim, generator=GEN)  # (B, Z): z ~ p_z = N(0, I)
fake = G_img(z)  # (B, 1, 28, 28)
logits = D_img(fake)  # (B,): D's logits; D(G(z)) = sigmoid(logits)
loss_inline = -torch.log(torch.sigmoid(logits)).mean()  # -E_z[log D(G(z))], written out
assert torch.allclose(loss_inline, generator_loss("ns", logits), atol=1e-6)  # = the library's non-saturating loss
grads = torch.autograd.grad(loss_inline, list(G_img.parameters()))
assert all(g.abs().sum() > 0 for g in grads if g.numel() > 1), "the loss over z reaches every layer of G"

x_real = data.images[:BATCH]  # (B, 1, 28, 28), x ~ p_data
try:
    G_img(x_real)  # "G(x)": the generator expects (B, Z) noise, not images
    raise AssertionError("G should refuse an image")
except RuntimeError as err:
    print(f"G(x_real) fails: {str(err).splitlines()[0]}")
loss_on_data = -F.logsigmoid(D_img(x_real)).mean()  # a loss over x ~ p_data only
grads_data = torch.autograd.grad(loss_on_data, list(G_img.parameters()), allow_unused=True)
assert all(g is None for g in grads_data), "a loss over real data alone has no path to G"
print(f"L_G over z ~ p_z = {loss_inline.item():.4f} (equals generator_loss('ns')); "
      f"gradient of a data-only loss w.r.t. G: {set(grads_data)}")
''')

md(r"""
### 6.4 "The discriminator can end in a ReLU."

**Correction.** A discriminator that outputs a **probability** must end in a **sigmoid**
$\sigma(a) = 1 / (1 + e^{-a})$, which maps any real number into $(0, 1)$. A ReLU maps into $[0, \infty)$: it outputs
exactly 0 for every negative input (so $\log D(x) = -\infty$) and values above 1 (which are not probabilities, and make
$\log(1 - D)$ undefined). In practice the course's discriminators return the **logit** $a$ and the losses compute
$\log \sigma(a)$ in a numerically stable way (`binary_cross_entropy_with_logits`, or `softplus`), which is the same
mathematics without ever rounding a probability to 0 or 1.

**Sources.** Goodfellow et al. 2014, arXiv:1406.2661 (Section 3: $D(x)$ is the probability that $x$ came from the
data rather than from the generator); Radford et al. 2015, arXiv:1511.06434 (Section 3: the DCGAN discriminator's last
convolution layer is flattened and fed into a single sigmoid output).
""")

code(r'''
a = torch.linspace(-4, 4, 9)  # some discriminator outputs before the last activation (logits)
p_sigmoid, p_relu = torch.sigmoid(a), torch.relu(a)
print("logit   " + " ".join(f"{v:6.2f}" for v in a.tolist()))
print("sigmoid " + " ".join(f"{v:6.3f}" for v in p_sigmoid.tolist()))
print("ReLU    " + " ".join(f"{v:6.2f}" for v in p_relu.tolist()))
assert ((p_sigmoid > 0) & (p_sigmoid < 1)).all()  # always a probability
assert p_relu.max() > 1 and (p_relu[a <= 0] == 0).all()  # not a probability: above 1, or exactly 0
try:
    F.binary_cross_entropy(p_relu, torch.ones_like(a))
    raise AssertionError("BCE must refuse values above 1")
except RuntimeError as err:
    print(f"binary_cross_entropy(ReLU outputs) fails: {err}")

# On logits, the library's discriminator loss is exactly BCE(sigmoid(a), target), computed stably.
real_logits, fake_logits = a, a.flip(0)
bce = F.binary_cross_entropy(torch.sigmoid(real_logits), torch.ones(9)) + F.binary_cross_entropy(
    torch.sigmoid(fake_logits), torch.zeros(9))
assert torch.allclose(discriminator_loss("ns", real_logits, fake_logits), bce, atol=1e-6)

fig, ax = plt.subplots(figsize=(5, 3))
grid = torch.linspace(-4, 4, 200)
ax.plot(grid, torch.sigmoid(grid), label="sigmoid: a probability in (0, 1)")
ax.plot(grid, torch.relu(grid), label="ReLU: [0, inf), not a probability")
ax.axhspan(0, 1, color="green", alpha=0.08)
ax.set_xlabel("logit a")
ax.set_ylim(-0.2, 2.2)
ax.legend(fontsize=8)
plt.show()
''')

md(r"""
### 6.5 "An MLP generator ending in 784 units is reshaped to (32, 32, 1)."

**Correction.** $784 = 28 \times 28$: the 784 outputs are one 28 × 28 greyscale image, and in PyTorch's
channels-first layout they are reshaped to **(1, 28, 28)** (a batch to $(B, 1, 28, 28)$). A 32 × 32 image would need
$32 \times 32 = 1024$ numbers, so `view(-1, 32, 32, 1)` cannot work (and $(H, W, C)$ is the channels-last layout of
other libraries, not what PyTorch's convolutions expect).

**Sources.** Xiao et al. 2017, arXiv:1708.07747 (Fashion-MNIST: 28 × 28 greyscale); the PyTorch `Conv2d`
documentation (inputs $(N, C, H, W)$).
""")

code(r'''
assert 28 * 28 == 784 and 32 * 32 == 1024
flat = torch.randn(BATCH, 784, generator=GEN)  # what a final Linear(..., 784) produces
images = flat.view(BATCH, 1, 28, 28)  # (B, 784) -> (B, 1, 28, 28)
assert images.shape == (BATCH, 1, 28, 28)
try:
    flat.view(BATCH, 32, 32, 1)
    raise AssertionError("784 numbers cannot fill 32 x 32")
except RuntimeError as err:
    print(f"view(B, 32, 32, 1) fails: {err}")
assert G_img(z).shape == (BATCH, 1, 28, 28) == data.images[:BATCH].shape  # the library's MLP generator does it right
print(f"the MLP generator's last layer: {G_img.net[-3]} -> tanh -> Unflatten to {tuple(G_img(z).shape[1:])}")
''')

md(r"""
### 6.6 "A GAN is one combined model, fitted with one optimiser on `[d_real, d_fake]` targets."

**Correction.** GAN training **alternates** a discriminator update and a generator update, with **separate
optimisers** (section 4). If instead one optimiser minimised the discriminator's loss over *all* parameters, the
generator would be trained to help the discriminator — to make its fakes *easier* to spot. The code below shows it
exactly: the gradient of the discriminator's loss with respect to $G$'s parameters is the **negative** of the gradient
of the generator's (minimax) loss. A GAN needs the two players to pull in opposite directions, each with its own
update.

**Sources.** Goodfellow et al. 2014, arXiv:1406.2661, Algorithm 1; Radford et al. 2015, arXiv:1511.06434 (separate
Adam optimisers).
""")

code(r'''
z = sample_noise(BATCH, Z_DIM, generator=GEN)  # (B, Z)
real_logits, fake_logits = D(real), D(G(z))  # (B,), (B,)
loss_d_all = discriminator_loss("minimax", real_logits, fake_logits)  # what a single optimiser would minimise
grad_from_d_loss = torch.cat([g.flatten() for g in torch.autograd.grad(loss_d_all, list(G.parameters()),
                                                                       retain_graph=True)])
grad_from_g_loss = torch.cat([g.flatten() for g in torch.autograd.grad(generator_loss("minimax", fake_logits),
                                                                       list(G.parameters()))])
cosine = F.cosine_similarity(grad_from_d_loss, grad_from_g_loss, dim=0).item()
assert torch.allclose(grad_from_d_loss, -grad_from_g_loss, atol=1e-6)
print(f"cosine between the D loss's gradient and the G loss's gradient, w.r.t. G's parameters: {cosine:+.4f}")
''')

md(r"""
### 6.7 "DCGAN is a 2014 paper, and *Improved Techniques for Training GANs* is arXiv:1701.07875 (2017)."

**Correction.** Reading lists often get the years and arXiv numbers of three landmark papers wrong. The right ones:

| paper | authors | year | arXiv |
|---|---|---|---|
| *Unsupervised Representation Learning with Deep Convolutional GANs* (DCGAN) | Radford, Metz, Chintala | 2015 | 1511.06434 |
| *Improved Techniques for Training GANs* (feature matching, minibatch discrimination, Inception score, ...) | Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen | 2016 | 1606.03498 |
| *Wasserstein GAN* | Arjovsky, Chintala, Bottou | 2017 | 1701.07875 |

arXiv:1701.07875 is *Wasserstein GAN*, which notebook 04 implements; DCGAN appeared in November 2015.

**Sources.** The arXiv pages themselves: arXiv:1511.06434, arXiv:1606.03498, arXiv:1701.07875.

### 6.8 "DALL-E generates images by aligning text and images with CLIP; NeRF is an image generator that produces view-independent images."

**Correction.** DALL-E (2021) pairs a **discrete VAE** with an **autoregressive transformer**, which generates the
image tokens; CLIP does not generate anything — it only **reranks** the samples. NeRF renders **novel views of one
scene** by volume rendering a learned radiance field whose colour is **view-dependent** (that is how it reproduces
reflections and highlights); it is fitted per scene and does not invent new scenes. Details in section 5.

**Sources.** Ramesh et al. 2021, arXiv:2102.12092; Radford et al. 2021, arXiv:2103.00020; Mildenhall et al. 2020,
arXiv:2003.08934.

### 6.9 "SSIM scores the quality of a generated image."

**Correction.** SSIM (structural similarity) compares an image with a **reference** image: it measures how close
$y$ is to $x$ in local means, contrasts and structure. A generated image has no reference, so SSIM cannot score it on
its own. Worse, SSIM rewards copying: a washed-out, noisy copy of a training image scores far higher than a different,
perfectly real image of the same class. To judge generators we need distribution-level metrics such as FID or
precision/recall (notebook 06).

**Source.** Wang, Bovik, Sheikh, Simoncelli 2004, *Image quality assessment: from error visibility to structural
similarity*, IEEE Transactions on Image Processing 13(4).
""")

code(r'''
test = load_images("fashion_mnist", "test", limit=cfg.test_limit)
shoes = test.images[test.labels == test.class_names.index("Sneaker")][:16]  # (16, 1, 28, 28)
x, other = shoes[:8], shoes[8:16]  # 8 references and 8 *different* real sneakers
noisy_copy = (0.8 * x + 0.2 * torch.randn(x.shape, generator=GEN)).clamp(-1, 1)  # washed out and noisy

s_self = ssim(x, x, reduction="none")
s_noisy = ssim(x, noisy_copy, reduction="none")
s_other = ssim(x, other, reduction="none")
assert torch.allclose(s_self, torch.ones(8, dtype=s_self.dtype))  # identical images: SSIM = 1
assert s_noisy.mean() > s_other.mean()  # a degraded copy "beats" a real, different sneaker
try:
    ssim(x)  # one image on its own: there is nothing to compare with
    raise AssertionError("SSIM needs two images")
except TypeError as err:
    print(f"ssim(x) fails: {err}")

fig, axes = plt.subplots(3, 1, figsize=(8, 3.9))
show_images(x, nrow=8, ax=axes[0], title="references x")
show_images(noisy_copy, nrow=8, ax=axes[1], title=f"noisy copies: SSIM {s_noisy.mean():.2f}")
show_images(other, nrow=8, ax=axes[2], title=f"other real sneakers: SSIM {s_other.mean():.2f}")
plt.show()
''')

md(r"""
## Summary

- A generative model learns a distribution from samples so that it can draw new ones; text-to-image models learn
  $p(\text{image} \mid \text{prompt})$.
- **GANs** learn a generator through a discriminator's judgement: one pass to sample, a delicate game to train.
  **VAEs** maximise a likelihood bound: stable, with an encoder, but blurry. **Diffusion models** learn to predict
  noise and sample by iterative denoising: stable and excellent, but slow. **Latent diffusion** runs diffusion in a
  compressed latent space.
- **Stable Diffusion v1** = a frozen CLIP ViT-L/14 text encoder (77 × 768 token embeddings) + an ~860M-parameter U-Net
  with cross-attention, denoising a 4 × 64 × 64 latent with classifier-free guidance + a VAE decoder (factor 8) to a
  512 × 512 image. Its autoencoder was trained with a perceptual and a patch-based adversarial loss.
- A GAN iteration is a **discriminator step** on real and **detached** fake data, then a **generator step** through
  $D$, each with **its own optimiser**; the generator loss is an expectation over **noise** $z \sim p_z$.
- DALL-E (2021) = discrete VAE + autoregressive transformer + CLIP reranking; CLIP scores image–text matches; NeRF
  renders new views of one scene. SSIM needs a reference image.

## Exercises

Each exercise cell holds a reference answer, so the notebook runs from top to bottom; replace it with your own and run
the cell — the `assert` checks it.

1. Stable Diffusion v1's autoencoder, applied to a 768 × 768 image: what shape is the latent (channels, height, width)?
2. With 30 sampling steps and classifier-free guidance, how many times does the U-Net run for one image?
3. Write the discriminator's loss on logits yourself — $-\log \sigma(r) - \log(1 - \sigma(f))$, averaged — using
   `F.logsigmoid`, and check it against `discriminator_loss("ns", ...)`. (Hint: $1 - \sigma(f) = \sigma(-f)$.)
4. One discriminator step with `.detach()` left out: which parameters receive gradients? Fill in the set.
""")

code(r'''
# 1. The latent of a 768 x 768 image: (channels, height, width).
answer_1 = (4, 96, 96)
assert answer_1 == (LATENT_CHANNELS, 768 // FACTOR, 768 // FACTOR), "channels stay 4; each side shrinks by 8"

# 2. U-Net evaluations: 30 steps, each with the prompt and with the empty prompt.
answer_2 = 60
assert answer_2 == 30 * 2


# 3. The discriminator's loss on logits, written with logsigmoid.
def my_discriminator_loss(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


r3, f3 = torch.randn(32, generator=GEN) * 3, torch.randn(32, generator=GEN) * 3
assert torch.allclose(my_discriminator_loss(r3, f3), discriminator_loss("ns", r3, f3), atol=1e-6)

# 4. Without .detach(), the discriminator's loss reaches both networks.
answer_4 = {"D", "G"}
G4, D4 = ToyGenerator(z_dim=Z_DIM, data_dim=2), ToyDiscriminator(data_dim=2)
loss4 = discriminator_loss("ns", D4(real), D4(G4(sample_noise(BATCH, Z_DIM, generator=GEN))))  # no .detach()
loss4.backward()
got = {name for name, net in (("D", D4), ("G", G4)) if any(p.grad is not None for p in net.parameters())}
assert answer_4 == got, f"parameters with gradients: {got}"
print(f"all exercises check out; notebook ran in {time.perf_counter() - T0:.1f} s")
''')

md(r"""
## References

- Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville, Bengio 2014. *Generative adversarial nets*.
  arXiv:1406.2661.
- Kingma, Welling 2013. *Auto-encoding variational Bayes*. arXiv:1312.6114.
- Sohl-Dickstein, Weiss, Maheswaranathan, Ganguli 2015. *Deep unsupervised learning using nonequilibrium
  thermodynamics*. arXiv:1503.03585.
- Ho, Jain, Abbeel 2020. *Denoising diffusion probabilistic models*. arXiv:2006.11239.
- Song, Meng, Ermon 2020. *Denoising diffusion implicit models*. arXiv:2010.02502.
- Dhariwal, Nichol 2021. *Diffusion models beat GANs on image synthesis*. arXiv:2105.05233.
- Ho, Salimans 2022. *Classifier-free diffusion guidance*. arXiv:2207.12598.
- Rombach, Blattmann, Lorenz, Esser, Ommer 2022. *High-resolution image synthesis with latent diffusion models*.
  arXiv:2112.10752. Model card of Stable Diffusion v1 (CompVis): 860M-parameter U-Net, 123M-parameter frozen CLIP
  ViT-L/14 text encoder, downsampling-factor-8 autoencoder, 10% text-conditioning dropout.
- Esser, Rombach, Ommer 2021. *Taming transformers for high-resolution image synthesis* (VQGAN). arXiv:2012.09841.
- Zhang, Isola, Efros, Shechtman, Wang 2018. *The unreasonable effectiveness of deep features as a perceptual metric*
  (LPIPS). arXiv:1801.03924.
- Ronneberger, Fischer, Brox 2015. *U-Net: convolutional networks for biomedical image segmentation*.
  arXiv:1505.04597.
- Vaswani et al. 2017. *Attention is all you need*. arXiv:1706.03762.
- Radford, Kim, Hallacy, Ramesh, Goh, Agarwal, Sastry, Askell, Mishkin, Clark, Krueger, Sutskever 2021. *Learning
  transferable visual models from natural language supervision* (CLIP). arXiv:2103.00020.
- Schuhmann et al. 2022. *LAION-5B: an open large-scale dataset for training next generation image-text models*.
  arXiv:2210.08402.
- Ramesh, Pavlov, Goh, Gray, Voss, Radford, Chen, Sutskever 2021. *Zero-shot text-to-image generation* (DALL-E).
  arXiv:2102.12092.
- Ramesh, Dhariwal, Nichol, Chu, Chen 2022. *Hierarchical text-conditional image generation with CLIP latents*
  (DALL-E 2). arXiv:2204.06125.
- Mildenhall, Srinivasan, Tancik, Barron, Ramamoorthi, Ng 2020. *NeRF: representing scenes as neural radiance fields
  for view synthesis*. arXiv:2003.08934.
- Radford, Metz, Chintala 2015. *Unsupervised representation learning with deep convolutional generative adversarial
  networks* (DCGAN). arXiv:1511.06434.
- Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen 2016. *Improved techniques for training GANs*.
  arXiv:1606.03498.
- Arjovsky, Chintala, Bottou 2017. *Wasserstein GAN*. arXiv:1701.07875.
- Kang, Zhu, Zhang, Park, Shechtman, Paris, Park 2023. *Scaling up GANs for text-to-image synthesis* (GigaGAN).
  arXiv:2303.05511.
- Wang, Bovik, Sheikh, Simoncelli 2004. *Image quality assessment: from error visibility to structural similarity*.
  IEEE Transactions on Image Processing 13(4).
- Xiao, Rasul, Vollgraf 2017. *Fashion-MNIST*. arXiv:1708.07747.
""")

nb.write()
