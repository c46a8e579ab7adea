"""Build notebooks/07_generate_score_select.ipynb (run from anywhere; then render it with tools/render_notebooks.py)."""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("07_generate_score_select")
md, code = nb.md, nb.code


md(r"""
# 07 · Generate, score, select

"Generate many, score them, keep the best" is an old trick — DALL-E reranks its samples with CLIP, and every GAN demo
shows its nicest pictures. Done naively it hides a cost: the kept samples are *less diverse* than what the generator
really produces. This notebook does it properly and **measures** what it buys and what it costs.

## Goals

- understand **best-of-N** selection with the discriminator, and why it trades diversity for quality;
- derive and run **discriminator rejection sampling** (DRS, Azadi et al. 2019), which with an ideal discriminator
  samples the *data* distribution exactly — first on a toy where the density ratio is known, then on the shipped GAN;
- measure the effect of each method on FID, precision, recall and class coverage (notebook 06's metrics);
- walk through the latent space with **linear and spherical interpolation**, and explore it with a widget.

## Prerequisites

Notebook 02 (the optimal discriminator $D^*(x) = p_{data}(x) / (p_{data}(x) + p_g(x))$), notebook 05 (the trained
GAN) and notebook 06 (FID, precision and recall). The shipped checkpoints in `data/checkpoints/` are used; nothing is
trained here for long.

## Time

| profile | samples per method | time |
|---|---|---|
| `ci` | 300 | under 30 s |
| `cpu` | 2,000 | about 3–4 minutes |
| `gpu` | 5,000 | about 1 minute |
""")

code(
    colab_setup_source()
    + r'''
import copy
import math
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display

from sdgan_course import metrics, selection
from sdgan_course.classifier import load_classifier
from sdgan_course.config import get_profile
from sdgan_course.data import GaussianMixture, load_images
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.gan import GANConfig, build_gan, sample_noise
from sdgan_course.viz import show_images

PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
# ci runs beside other jobs on 2 shared CPU cores, where one thread per process is fastest; elsewhere torch decides
torch.set_num_threads({"ci": 1, "cpu": torch.get_num_threads(), "gpu": torch.get_num_threads()}[PROFILE])
N = {"ci": 300, "cpu": 2000, "gpu": 5000}[PROFILE]  # kept samples per method
T0 = time.perf_counter()
print(f"profile {PROFILE} | device {describe_device(DEVICE)} | {N} samples per method")
'''
)

md(r"""
## 1. The idea, on a toy where the answer is known

Take a generator density $p_g$ and the data density $p_{data}$. The optimal discriminator (notebook 02) is
$D^*(x) = p_{data}/(p_{data} + p_g)$, so its **logit** is exactly the log density ratio:

$$\tilde D^*(x) = \log\frac{D^*(x)}{1 - D^*(x)} = \log\frac{p_{data}(x)}{p_g(x)}.$$

Rejection sampling turns samples of $p_g$ into samples of $p_{data}$: accept $x$ with probability
$p_{data}(x) / (M\, p_g(x)) = e^{\tilde D(x) - \tilde D_M}$, where $\tilde D_M$ is the largest logit. Azadi et al.
(2019, arXiv:1810.06758) write this as $\sigma(\hat F(x))$ with

$$\hat F(x) = \tilde D(x) - \tilde D_M - \log\big(1 - e^{\tilde D(x) - \tilde D_M - \epsilon}\big) - \gamma,$$

which equals the exact rule for $\gamma = 0, \epsilon \to 0$ ($\sigma(\log\frac{a}{1-a}) = a$), while $\gamma$ shifts
the acceptance rate in logit space (in practice $\tilde D_M$ is estimated and the acceptance rate of the exact rule
can be tiny). **Best-of-N** instead keeps, out of every N candidates, the one with the highest logit.

Toy: the data are two bumps at ±2; the "generator" is one broad Gaussian that covers both. We *know* both densities,
so we know the ideal discriminator exactly.
""")

code(r'''
p_data = GaussianMixture([[-2.0], [2.0]], [0.5, 0.5])
p_g = GaussianMixture([[0.0]], [2.5])


def toy_generator(n, generator):
    return p_g.sample(n, generator=generator)[:, 0]  # (n,)


def ideal_logit(x):
    return (p_data.log_prob(x) - p_g.log_prob(x)).float()  # log p_data / p_g, (n,)


TOY_N = 4000
raw = toy_generator(TOY_N, GEN)
best = selection.best_of_n(toy_generator, ideal_logit, TOY_N, n=8, generator=GEN)
drs = selection.discriminator_rejection_sampling(toy_generator, ideal_logit, TOY_N, burn_in=20000, eps=1e-8,
                                                 generator=GEN)
truth = p_data.sample(TOY_N, generator=GEN)[:, 0]


def w1(a, b):
    """1-D Wasserstein distance between two equal-size samples: mean gap between sorted values."""
    return (a.sort().values - b.sort().values).abs().mean().item()


m_exact = math.exp(drs.logit_max)
print(f"DRS: estimated max logit {drs.logit_max:.3f} (M = {m_exact:.2f}); acceptance {drs.acceptance_rate:.3f}, "
      f"exact rejection sampling: 1/M = {selection.expected_acceptance_rate(drs.logit_max):.3f}")
grid = torch.linspace(-6, 6, 400)
fig, axes = plt.subplots(1, 3, figsize=(14, 3.2), sharey=True)
for ax, (name, s) in zip(axes, {"generator (raw)": raw, "best-of-8": best.samples, "DRS": drs.samples}.items()):
    ax.hist(s.numpy(), bins=80, range=(-6, 6), density=True, alpha=0.6, label=name)
    ax.plot(grid, p_data.prob(grid), "k", lw=1.5, label="p_data")
    ax.set_title(f"{name}: W1 to data = {w1(s, truth):.3f}")
    ax.legend(fontsize=8)
plt.show()
assert abs(drs.acceptance_rate - 1 / m_exact) < 0.03
assert w1(drs.samples, truth) < w1(best.samples, truth) and w1(drs.samples, truth) < w1(raw, truth)
''')

md(r"""
Best-of-N moves mass toward where the discriminator is most confident — the centres of the modes — and overshoots:
its bumps are too narrow (less diversity). DRS reproduces the data distribution, at the price of throwing away about
$1 - 1/M$ of the candidates. Both need a *good* discriminator; on real GANs the discriminator is far from ideal.

## 2. The shipped GAN and its discriminator

We load the EMA generator and its discriminator from `data/checkpoints/` (trained in notebook 05's way). If the
checkpoint is missing the notebook says so and continues with an *untrained* network, so every cell still runs —
but then the numbers mean nothing.
""")

code(r'''
def load_shipped(name):
    """(LoadedGAN or None, message)."""
    try:
        from sdgan_course.train import load_shipped_gan

        return load_shipped_gan(name, device=DEVICE), f"loaded the shipped checkpoint {name}"
    except Exception as err:  # noqa: BLE001 - missing module, file or corrupted checkpoint: say which, continue
        return None, f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"


gan, message = load_shipped("gan_fashion_mnist")
print(message)
if gan is None:
    print("!! The shipped GAN checkpoint data/checkpoints/gan_fashion_mnist.pt is not available here.\n"
          "!! Using an UNTRAINED DCGAN so the notebook still runs; its numbers are meaningless. Clone the full\n"
          "!! course repository to get the checkpoint, or train one with: python -m sdgan_course train gan")
    pair = build_gan(GANConfig.preset("ci"))
    G, D, Z_DIM = pair.generator.to(DEVICE).eval(), pair.discriminator.to(DEVICE).eval(), GANConfig.preset("ci").z_dim
else:
    G, D, Z_DIM = gan.generator, gan.discriminator, gan.config.z_dim
    print(f"generator: {gan.config.arch}, z_dim {Z_DIM}, trained {gan.step} steps")


@torch.no_grad()
def gan_generator(n, generator):
    """Candidates and their latent codes: (x (n, 1, 28, 28), z (n, Z))."""
    z = sample_noise(n, Z_DIM, generator=generator)  # (n, Z) drawn on the CPU
    return G(z.to(DEVICE)).float().cpu(), z


CLF = load_classifier("fashion_mnist", device=DEVICE)
REF = metrics.reference_statistics("fashion_mnist", "train", classifier=CLF, num_features=N)
test = load_images("fashion_mnist", "test", limit=N)
train = load_images("fashion_mnist", "train", limit=4 * N)
CLASSES = test.class_names
first, _ = gan_generator(64, GEN)
assert first.shape == (64, 1, 28, 28) and first.min() >= -1 and first.max() <= 1
show_images(first, nrow=16, title="64 random samples of the generator")
plt.show()
''')

md(r"""
### Calibrating the discriminator

At the end of GAN training the discriminator is tuned to the generator of a moment ago, and not to being a density
ratio estimator. Azadi et al. therefore train it a little further with the generator frozen, so that its logit is
closer to $\log p_{data}/p_g$ for *this* generator. A few hundred steps of the usual logistic loss do it:
""")

code(r'''
CAL_STEPS = {"ci": 20, "cpu": 300, "gpu": 1000}[PROFILE]
D_cal = copy.deepcopy(D).train()
opt = torch.optim.Adam(D_cal.parameters(), lr=1e-4, betas=(0.5, 0.999))
cal_losses = []
for step in range(CAL_STEPS):
    idx = torch.randint(0, len(train.images), (64,), generator=GEN)
    x_real = train.images[idx].to(DEVICE)  # (64, 1, 28, 28)
    x_fake, _ = gan_generator(64, GEN)  # the generator is frozen: no gradient reaches it
    logits = D_cal(torch.cat([x_real, x_fake.to(DEVICE)]))  # (128,)
    target = torch.cat([torch.ones(64), torch.zeros(64)]).to(DEVICE)
    loss = F.binary_cross_entropy_with_logits(logits, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    cal_losses.append(loss.item())
D_cal.eval()


@torch.no_grad()
def logit_of(x, z=None):
    """The calibrated discriminator's logit of images x (B, 1, 28, 28); z is ignored."""
    return torch.cat([D_cal(x[i : i + 1000].to(DEVICE)).float().cpu() for i in range(0, len(x), 1000)])


real_logits = logit_of(test.images)
fake_logits = logit_of(gan_generator(N, GEN)[0])
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3))
a1.plot(cal_losses)
a1.set(title="calibration loss (generator frozen)", xlabel="step")
a2.hist(real_logits.numpy(), 50, alpha=0.6, label="real test images")
a2.hist(fake_logits.numpy(), 50, alpha=0.6, label="generated")
a2.set(title="calibrated discriminator logits", xlabel="logit")
a2.legend()
plt.show()
print(f"mean logit: real {real_logits.mean():.2f}, generated {fake_logits.mean():.2f}")
''')

md(r"""
## 3. Best-of-N and DRS on the GAN

Both selection methods take two callables — a generator that returns candidates (here with their latent codes) and a
discriminator that returns logits — so the same library code ran the toy above. Below: what the discriminator likes
best and least.
""")

code(r'''
best8 = selection.best_of_n(gan_generator, logit_of, 32, n=8, generator=GEN)
worst8 = selection.best_of_n(gan_generator, lambda x, z: -logit_of(x), 32, n=8, generator=GEN)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
show_images(best8.samples[0], nrow=8, ax=axes[0], title="best of 8 (highest logit)")
show_images(worst8.samples[0], nrow=8, ax=axes[1], title="worst of 8 (lowest logit)")
plt.show()
assert (best8.logits.mean() > worst8.logits.mul(-1).mean()).item()  # worst8.logits are negated
''')

md(r"""
Now the measurement. Each method keeps N samples (for DRS, γ is set from the burn-in so that the candidate at a
chosen quantile of $\hat F$ is accepted with probability 1/2: the exact rule, γ = 0, can accept so few candidates
that it becomes impractical when the discriminator's maximum logit is an outlier); we score them with notebook 06's
metrics against the training statistics, next to the real-vs-real baseline (held-out test images). "cost" is
candidates drawn per kept sample.
""")

code(r'''
SETS, COST = {}, {}
SETS["real test (baseline)"], COST["real test (baseline)"] = test.images, float("nan")
x_random, _ = gan_generator(N, GEN)
SETS["random"], COST["random"] = x_random, 1.0
for n in {"ci": [4], "cpu": [4, 16], "gpu": [4, 16]}[PROFILE]:
    sel = selection.best_of_n(gan_generator, logit_of, N, n=n, generator=GEN)
    SETS[f"best-of-{n}"], COST[f"best-of-{n}"] = sel.samples[0], float(n)
for name, q in {"DRS (gamma: median)": 0.5, "DRS (gamma: 90th pct)": 0.9}.items():
    res = selection.discriminator_rejection_sampling(gan_generator, logit_of, N, burn_in=2000, gamma_quantile=q,
                                                     max_proposals=100 * N, generator=GEN)
    SETS[name], COST[name] = res.samples[0], 1 / res.acceptance_rate
    print(f"{name}: acceptance {res.acceptance_rate:.3f}, gamma {res.gamma:.2f}, max logit {res.logit_max:.2f}")

RESULTS = {}
for name, x in SETS.items():
    assert x.shape == (N, 1, 28, 28), name
    r = metrics.score_samples(x, REF, CLF, kid_subset_size=min(N, 1000))
    feats = metrics.extract_features(x, CLF).features
    r["diversity"] = torch.pdist(feats[: min(N, 1000)]).mean().item()  # mean pairwise feature distance
    r["cost"] = COST[name]
    RESULTS[name] = r
KEYS = ["fid", "kid", "precision", "recall", "coverage", "class_entropy", "classes_covered", "diversity", "cost"]
metrics.METRIC_NOTES.setdefault("diversity", "mean pairwise feature distance (higher: more varied)")
metrics.METRIC_NOTES.setdefault("cost", "candidates generated per kept sample")
print(metrics.format_table(RESULTS, keys=KEYS))
''')

code(r'''
names = [n for n in RESULTS if n != "real test (baseline)"]
fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
for ax, key in zip(axes, ["fid", "precision", "recall", "diversity"]):
    ax.bar(range(len(names)), [RESULTS[n][key] for n in names], color="tab:blue")
    ax.axhline(RESULTS["real test (baseline)"][key], color="k", ls=":", label="real test")
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_title(key)
    ax.legend(fontsize=7)
plt.show()
fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.4), sharey=True)
for ax, n in zip(axes, names):
    ax.bar(range(10), RESULTS[n]["class_histogram"])
    ax.set_title(n, fontsize=8)
    ax.set_xticks(range(10), [c[:4] for c in CLASSES], rotation=90, fontsize=6)
plt.show()
''')

md(r"""
How to read it (the exact numbers depend on the profile and the checkpoint). Selection raises **precision** and
density a little: the kept samples sit closer to the real manifold. It does **not** lower FID here — it raises it:
best-of-N piles the samples up on the discriminator's favourite kinds of garments, so class entropy, covered classes,
coverage and diversity fall as N grows, and FID, which also measures the spread, gets much worse. Measured on the
shipped GAN with 5,000 samples per method (discriminator calibrated for 300 steps): FID 50 for random samples, 242 for
best-of-4 and 392 for best-of-16 (6 of 10 classes covered); DRS 96 (median γ) and 145 (90th-percentile γ), with
recall unchanged at 0.66–0.67, while precision rose from 0.64 to 0.68–0.72. DRS aims at the data distribution itself,
so it costs far less diversity than best-of-N; how close it gets depends on how close the calibrated discriminator is
to the ideal density ratio — which the toy above had and a real discriminator does not. No selection can add what the
generator never makes.

## 4. Walking through the latent space: lerp and slerp

The generator maps every $z$ to an image, so a path between two codes is a smooth morph. For $z \sim N(0, I)$ in
$Z$ dimensions almost all the mass lies near the sphere of radius $\sqrt Z$; the straight line (lerp) between two
codes cuts through the inside, where the midpoint has norm about $\sqrt{Z/2}$ — codes the generator never saw. The
spherical path (slerp, White 2016, arXiv:1609.04468) keeps the norm typical:

$$\mathrm{slerp}(z_0, z_1; t) = \frac{\sin((1-t)\Omega)}{\sin\Omega} z_0 + \frac{\sin(t\Omega)}{\sin\Omega} z_1,
\qquad \cos\Omega = \frac{z_0 \cdot z_1}{\lVert z_0\rVert\lVert z_1\rVert}.$$
""")

code(r'''
STEPS = 10
z0, z1 = sample_noise(2, Z_DIM, generator=GEN)
paths = {m: selection.interpolate(z0, z1, STEPS, method=m) for m in ("lerp", "slerp")}  # (T, Z) each
fig, axes = plt.subplots(3, 1, figsize=(12, 5.2), gridspec_kw={"height_ratios": [1, 1, 1.3]})
with torch.no_grad():
    for ax, (m, path) in zip(axes, paths.items()):
        show_images(G(path.to(DEVICE)).cpu(), nrow=STEPS, ax=ax, title=m)
t = np.linspace(0, 1, STEPS)
for m, path in paths.items():
    axes[2].plot(t, path.norm(dim=1), "o-", label=m)
axes[2].axhline(math.sqrt(Z_DIM), color="k", ls=":", label="sqrt(Z)")
axes[2].set(xlabel="t", ylabel="||z||")
axes[2].legend()
plt.tight_layout()
plt.show()
assert paths["slerp"].norm(dim=1)[STEPS // 2] > paths["lerp"].norm(dim=1)[STEPS // 2]
''')

md(r"""
## 5. Explore the latent space (and the classes)

Move between two random codes (seeds), switch the path, and — with the class-conditional GAN, if it is shipped —
pick the garment class: the same $z$ then keeps the "style" while the label changes the garment.
""")

code(r'''
cgan, cmessage = load_shipped("cgan_fashion_mnist")
print(cmessage if cgan is not None else f"class-conditional GAN not available ({cmessage}); class menu disabled")
class_options = ["(unconditional GAN)"] + (list(CLASSES) if cgan is not None else [])
if cgan is not None:  # one row per class, one column per latent code: z carries the "style", the label the garment
    zc = sample_noise(8, cgan.config.z_dim, generator=GEN).repeat(10, 1).to(DEVICE)  # (80, Z)
    yc = torch.arange(10).repeat_interleave(8).to(DEVICE)  # (80,)
    with torch.no_grad():
        grid = cgan.generator(zc, yc).cpu()
    assert grid.shape == (80, 1, 28, 28)
    pred = metrics.extract_features(grid, CLF).probs.argmax(1)
    show_images(grid, nrow=8, title=f"class-conditional GAN: rows = classes, columns = the same z\n"
                f"the classifier agrees with the label for {(pred == yc.cpu()).float().mean():.0%}")
    plt.show()


@torch.no_grad()
def explore(seed_a=0, seed_b=1, t_step=5, path="slerp", garment="(unconditional GAN)"):
    conditional = garment != "(unconditional GAN)" and cgan is not None
    z_dim = cgan.config.z_dim if conditional else Z_DIM
    za = sample_noise(1, z_dim, generator=torch.Generator().manual_seed(seed_a))[0]
    zb = sample_noise(1, z_dim, generator=torch.Generator().manual_seed(seed_b))[0]
    zs = selection.interpolate(za, zb, 11, method=path).to(DEVICE)  # (11, Z)
    if conditional:
        label = torch.full((11,), CLASSES.index(garment), dtype=torch.long, device=DEVICE)
        images = cgan.generator(zs, label).cpu()
    else:
        images = G(zs).cpu()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 2.6), gridspec_kw={"width_ratios": [4, 1]})
    show_images(images, nrow=11, ax=a1, title=f"{path} from seed {seed_a} to seed {seed_b}")
    a2.imshow((images[t_step, 0] + 1) / 2, cmap="gray", vmin=0, vmax=1)
    a2.set_title(f"t = {t_step / 10:.1f}")
    a2.axis("off")
    plt.show()
    return images


ui = widgets.interactive(
    explore,
    seed_a=widgets.IntSlider(value=0, min=0, max=50, description="seed A"),
    seed_b=widgets.IntSlider(value=1, min=0, max=50, description="seed B"),
    t_step=widgets.IntSlider(value=5, min=0, max=10, description="step"),
    path=widgets.Dropdown(options=["slerp", "lerp"], value="slerp", description="path"),
    garment=widgets.Dropdown(options=class_options, value=class_options[0], description="class"),
)
display(ui)
assert explore(3, 4, 0).shape == (11, 1, 28, 28)
''')

md(r"""
## Summary

- A discriminator's logit estimates $\log p_{data}/p_g$; **best-of-N** keeps the candidate with the highest logit,
  **DRS** accepts with $\sigma(\hat F(x))$ and, with an ideal discriminator, is exact rejection sampling.
- Selection is not free: it costs candidates (N per sample, or $1/\text{acceptance}$), and best-of-N costs
  **diversity** — always report recall or class coverage next to FID when you select.
- Calibrate the discriminator (train it briefly with the generator frozen) before using it as a density-ratio
  estimator.
- Interpolate Gaussian latents with **slerp**; lerp's midpoints are atypically short codes.

## Exercises

1. **Slerp by hand.** Implement slerp for two vectors and check it against `selection.slerp` at t = 0.3.
2. **Exact rejection sampling.** For logits `[-2, -1, 0]` and maximum 0, what acceptance probabilities does exact
   rejection sampling give? Check that `selection.drs_acceptance_probability` with γ = 0, ε = 0 agrees.
3. **The price of selection.** How many candidates does best-of-16 generate to keep 1,000 samples? And what
   acceptance rate does exact rejection sampling have when the largest density ratio is M = 4?
""")

code(r'''
# Exercise 1 (reference solution)
def my_slerp(a, b, t):
    omega = torch.arccos((a @ b) / (a.norm() * b.norm()))
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


assert torch.allclose(my_slerp(z0, z1, 0.3), selection.slerp(z0, z1, 0.3), atol=1e-5)

# Exercise 2
my_probs = torch.exp(torch.tensor([-2.0, -1.0, 0.0]) - 0.0)  # p_data / (M p_g) = exp(D - D_M)
assert torch.allclose(my_probs, selection.drs_acceptance_probability(torch.tensor([-2.0, -1.0, 0.0]), 0.0, eps=0.0))

# Exercise 3
candidates_for_1000 = 16 * 1000
acceptance_at_m4 = 1 / 4
assert candidates_for_1000 == selection.best_of_n(toy_generator, ideal_logit, 1000, n=16, generator=GEN).num_proposed
assert abs(acceptance_at_m4 - selection.expected_acceptance_rate(math.log(4))) < 1e-12
print(f"notebook ran in {time.perf_counter() - T0:.1f} s")
''')

md(r"""
## References

- Azadi, Olsson, Darrell, Goodfellow, Odena 2019. *Discriminator rejection sampling*. arXiv:1810.06758
- Turner, Hung, Frank, Saatci, Yosinski 2019. *Metropolis-Hastings generative adversarial networks*. arXiv:1811.11357
- Goodfellow et al. 2014. *Generative adversarial nets* (the optimal discriminator). arXiv:1406.2661
- White 2016. *Sampling generative networks* (slerp for latent spaces). arXiv:1609.04468
- Radford, Metz, Chintala 2015. *Unsupervised representation learning with deep convolutional GANs* (latent walks).
  arXiv:1511.06434
- Brock, Donahue, Simonyan 2019. *Large scale GAN training for high fidelity natural image synthesis* (the truncation
  trick, another quality-for-diversity trade). arXiv:1809.11096
- Ramesh et al. 2021. *Zero-shot text-to-image generation* (DALL-E reranks samples with CLIP). arXiv:2102.12092
- Kynkäänniemi et al. 2019. *Improved precision and recall metric for assessing generative models*. arXiv:1904.06991
""")

nb.write()
