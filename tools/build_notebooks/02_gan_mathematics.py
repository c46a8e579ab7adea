"""Build notebooks/02_gan_mathematics.ipynb (run from anywhere; then render it with tools/render_notebooks.py)."""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("02_gan_mathematics")
md, code = nb.md, nb.code


md(r"""
# 02 · GAN mathematics

A generative adversarial network is a game between two networks: a **generator** $G$ that turns noise into samples,
and a **discriminator** $D$ that tries to tell real samples from generated ones. This notebook works through the
mathematics of that game as Goodfellow et al. (2014, arXiv:1406.2661) wrote it — and checks every formula with
numbers, on densities we know exactly.

## Goals

- read the **value function** $V(D, G)$ and say what each term does;
- derive the **optimal discriminator** $D^*(x) = p_{data}(x) / (p_{data}(x) + p_g(x))$, then watch a trained network
  find it;
- see why the generator's objective against $D^*$ is $C(G) = -\log 4 + 2\,\mathrm{JSD}(p_{data} \,\|\, p_g)$, with the
  Jensen–Shannon divergence integrated numerically;
- understand why GANs are trained with the **non-saturating** generator loss, from the gradients;
- find out what the **single-layer** $G(z) = \mathrm{act}(W_G z + b_G)$ and $D(x) = \sigma(W_D x + b_D)$ can and cannot
  represent;
- train an MLP GAN on a ring of 8 Gaussians, **see mode collapse happen**, count the modes, and fix it.

## Prerequisites

Notebook 01 (what a GAN is, in words). Probability densities and expectations, logarithms, the chain rule, and a
first PyTorch training loop. Everything runs on a CPU.

## Time

| profile | training sizes | time |
|---|---|---|
| `ci` | a few hundred steps per experiment | under 30 s |
| `cpu` | 2,000 steps per experiment | about 2 minutes |
| `gpu` | 2,000–3,000 steps (toy models run on the CPU) | about 2 minutes |
""")

code(
    colab_setup_source()
    + r'''
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from sdgan_course import theory
from sdgan_course.config import get_profile
from sdgan_course.data import gaussian_mixture_1d, ring_of_gaussians
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.gan import ToyDiscriminator, sample_noise
from sdgan_course.losses import discriminator_loss, generator_loss
from sdgan_course.toy import (
    SingleLayerDiscriminator,
    SingleLayerGenerator,
    count_modes,
    fit_discriminator,
    ring_preset,
    train_ring_gan,
    train_toy_gan,
)
from sdgan_course.viz import plot_curves, scatter_2d

T0 = time.perf_counter()
PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
# Toy models with 1-2 inputs and 64-128 units: a GPU spends more time launching kernels than computing, so every
# experiment here runs on the CPU, in every profile. (The image GANs of notebooks 04-05 use DEVICE.)
TOY_DEVICE = torch.device("cpu")
SIZES = {
    "ci": dict(fit_steps=300, toy_steps=500),
    "cpu": dict(fit_steps=2000, toy_steps=2000),
    "gpu": dict(fit_steps=2000, toy_steps=2000),
}[PROFILE]
RING = ring_preset(PROFILE)  # the MLP ring GAN's settings for this profile (sdgan_course.toy.RING_PRESETS)
print(f"profile {PROFILE} | device {describe_device(DEVICE)} (toy experiments on the CPU) | sizes {SIZES}")
print(f"ring GAN: {RING}")
''')

md(r"""
## 1. The game: the value function $V(D, G)$

Noise $z$ is drawn from a simple prior $p_z$ (here a standard normal), and the generator maps it to a sample $G(z)$;
the distribution of $G(z)$ is called $p_g$. The discriminator $D(x) \in (0, 1)$ is the probability that $x$ came from
the data rather than from $G$. The two play (Goodfellow et al. 2014, **Eq. (1)**):

$$
\min_G \max_D \; V(D, G) = \mathbb{E}_{x \sim p_{data}}\big[\log D(x)\big] + \mathbb{E}_{z \sim p_z}\big[\log(1 - D(G(z)))\big].
$$

- $D$ **maximises** $V$: $\log D(x)$ is large when it says "real" to real data, $\log(1 - D(G(z)))$ when it says
  "fake" to generated samples. Maximising $V$ is the same as minimising the binary cross-entropy with labels 1 for
  real and 0 for fake.
- $G$ appears only in the second term, and **minimises** it: it wants $D(G(z))$ close to 1.

> **Two corrections to common write-ups** (including the material this course grew from).
>
> 1. The generator's loss is an expectation over **noise**: $L_G = -\mathbb{E}_{z \sim p_z}[\log D(G(z))]$ (the
>    non-saturating form of Section 3 of the paper, see part 5 below). It is *not* $-\mathbb{E}_{x \sim
>    p_{data}}[\log D(G(x))]$: the generator never takes data as input, and data samples do not depend on $G$, so a
>    loss averaged over $x \sim p_{data}$ would have nothing to teach it.
> 2. $D$ outputs a **probability**, so its last step is a **sigmoid** $\sigma(a) = 1/(1 + e^{-a})$, not a ReLU. A
>    ReLU gives values in $[0, \infty)$: $D(x) = 0$ wherever the pre-activation is negative, making
>    $\log D(x) = -\infty$, and $D(x) > 1$ makes $\log(1 - D(x))$ undefined. In code the course's discriminators return the **logit** $a$ and the losses
>    use $\log\sigma(a) = -\mathrm{softplus}(-a)$, which is the same mathematics computed without ever rounding a
>    probability to 0 or 1.

Let us make $V$ concrete. The data will be a 1-D mixture of two bumps, and the "generator" for now a fixed Gaussian,
so both densities are known exactly.
""")

code(r'''
p_data = gaussian_mixture_1d(means=(-2.0, 2.0), stds=(0.5, 0.5))  # the data: two bumps
G_STD = 1.5  # a fixed "generator": G(z) = 1.5 z with z ~ N(0, 1), so p_g = N(0, 1.5^2)


def sample_g(n, generator=None):
    return G_STD * sample_noise(n, 1, generator=generator)  # (n, 1)


def p_g_density(x):
    return torch.exp(-0.5 * (x / G_STD) ** 2) / (G_STD * math.sqrt(2 * math.pi))


x_real, x_fake = p_data.sample(20_000, generator=GEN), sample_g(20_000, generator=GEN)  # (n, 1) each


# Three discriminators, written as logits a(x) with D(x) = sigmoid(a(x)):
def d_coin(x):  # knows nothing: D = 1/2 everywhere
    return torch.zeros(len(x))


def d_far(x):  # "far from zero looks real"
    return 2.0 * (x.squeeze(1).abs() - 1.5)


def d_star_logit(x):  # the optimal one (part 2)
    return theory.optimal_discriminator_logit(p_data.log_prob(x), torch.log(p_g_density(x.double().squeeze(1))))


for name, d in [("D = 1/2", d_coin), ("far from 0 = real", d_far), ("D* (part 2)", d_star_logit)]:
    real_logits, fake_logits = d(x_real).float(), d(x_fake).float()
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    v_inline = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()  # Eq. (1), Monte Carlo
    v_library = theory.value_function(d_real, d_fake)
    v_from_bce = -discriminator_loss("minimax", real_logits, fake_logits)  # V = -(BCE of D)
    assert torch.allclose(v_inline, v_library, atol=1e-5) and torch.allclose(v_library, v_from_bce, atol=1e-4)
    print(f"{name:>20}:  V(D, G) = {v_library.item():+.4f}")
print(f"{'-log 4':>20}:  {-math.log(4):+.4f}   (the value of the coin-flip discriminator)")
''')

md(r"""
The coin-flip discriminator scores $V = \log\frac12 + \log\frac12 = -\log 4$; a discriminator that has learnt
something scores higher. How high can it go?

## 2. The optimal discriminator

For a fixed generator, write both expectations as one integral over $x$ — the generated samples have density $p_g$
(Goodfellow et al. 2014, **Eq. (3)**):

$$
V(G, D) = \int_x p_{data}(x) \log D(x) + p_g(x) \log\big(1 - D(x)\big) \, dx .
$$

$D$ can choose its value at every $x$ separately, so maximise the integrand pointwise. With $a = p_{data}(x)$,
$b = p_g(x)$ and $y = D(x)$: $f(y) = a \log y + b \log(1 - y)$ has $f'(y) = a/y - b/(1-y)$, which is zero at
$y = a/(a + b)$, and $f''(y) = -a/y^2 - b/(1-y)^2 < 0$, so that is the maximum. Hence (**Eq. (2)**, Proposition 1):

$$
D^*_G(x) = \frac{p_{data}(x)}{p_{data}(x) + p_g(x)} , \qquad
\text{equivalently} \quad \operatorname{logit} D^*_G(x) = \log p_{data}(x) - \log p_g(x).
$$

The optimal discriminator is a **density ratio**: where data is twice as likely as fakes, $D^* = 2/3$; where
$p_g = p_{data}$ it is $1/2$. A discriminator trained with logits is learning $\log p_{data} - \log p_g$.
""")

code(r'''
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
y = torch.linspace(1e-3, 1 - 1e-3, 999, dtype=torch.float64)
for a, b in [(0.3, 0.1), (0.2, 0.2), (0.05, 0.25)]:
    f = a * torch.log(y) + b * torch.log1p(-y)
    best = theory.optimal_discriminator(torch.tensor(a), torch.tensor(b))
    assert abs(y[f.argmax()] - best) < 2e-3  # the numerical argmax is a / (a + b)
    axes[0].plot(y, f, label=f"a={a}, b={b}")
    axes[0].axvline(best, ls=":", color=axes[0].lines[-1].get_color())
axes[0].set(xlabel="y = D(x)", ylabel="a log y + b log(1 - y)", title="pointwise objective, max at a/(a+b)", ylim=(-1.2, 0))
axes[0].legend()

X = torch.linspace(-10, 10, 4001, dtype=torch.float64)  # the integration grid (wide: all the mass inside)
P_DATA, P_G = p_data.prob(X[:, None]), p_g_density(X)  # (4001,) each
D_STAR = theory.optimal_discriminator(P_DATA, P_G)
axes[1].plot(X, P_DATA, label="$p_{data}$")
axes[1].plot(X, P_G, label="$p_g$")
axes[1].plot(X, D_STAR, "k", label="$D^*$")
axes[1].axhline(0.5, color="grey", lw=0.5)
axes[1].set(xlabel="x", title="the optimal discriminator for this pair", xlim=(-6, 6))
axes[1].legend()
plt.tight_layout()
plt.show()
''')

md(r"""
### Check it by training

The formula says what a perfect discriminator does. A real one is a network trained on samples. Train the course's
small MLP discriminator (`ToyDiscriminator`, logits out) on samples of $p_{data}$ and $p_g$ with the binary
cross-entropy, i.e. by maximising $V$ (`sdgan_course.toy.fit_discriminator`), and overlay the closed form.
""")

code(r'''
torch.manual_seed(0)
d_net = ToyDiscriminator(data_dim=1, hidden=(64, 64))
losses = fit_discriminator(d_net, p_data.sample, sample_g, steps=SIZES["fit_steps"], lr=3e-3, generator_rng=GEN)
with torch.no_grad():
    d_trained = torch.sigmoid(d_net(X.float()[:, None])).double()  # (4001,)

support = (P_DATA + P_G) > 0.02  # where there are samples to learn from
gap = (d_trained - D_STAR)[support].abs()
v_trained = theory.value_on_grid(d_trained.clamp(1e-12, 1 - 1e-12), P_DATA, P_G, X)
v_best = theory.value_at_optimum(P_DATA, P_G, X)
print(f"mean |D_trained - D*| where the densities are > 0.02: {gap.mean():.3f} (max {gap.max():.3f})")
print(f"V(D_trained, G) = {v_trained:.4f}  <=  V(D*, G) = {v_best:.4f}")
assert gap.mean() < 0.06 and v_trained <= v_best + 1e-9

fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].plot(X, D_STAR, "k", lw=3, alpha=0.4, label="$D^*$ (closed form, Eq. 2)")
axes[0].plot(X, d_trained, "C3", label="trained MLP discriminator")
axes[0].fill_between(X, 0, 1, where=~support, color="grey", alpha=0.15, label="almost no samples")
axes[0].set(xlabel="x", ylabel="D(x)", title="trained vs optimal discriminator", xlim=(-6, 6))
axes[0].legend(fontsize=8)
plot_curves({"BCE of D = -V": losses}, ax=axes[1], smooth=20, title=f"training loss ({len(losses)} steps)")
axes[1].axhline(-v_best.item(), color="k", ls=":", label="-V(D*, G)")
axes[1].legend()
plt.tight_layout()
plt.show()
''')

md(r"""
Where both densities have samples, the trained discriminator sits on the closed form; in the grey tails it has seen
almost nothing and can say anything — a first hint that a discriminator only constrains the generator where samples
fall.

## 3. What the generator minimises: $C(G) = -\log 4 + 2\,\mathrm{JSD}$

Plug $D^*$ back into $V$ (Goodfellow et al. 2014, **Eq. (4)**):

$$
C(G) = \max_D V(G, D)
= \mathbb{E}_{x \sim p_{data}}\Big[\log \frac{p_{data}(x)}{p_{data}(x) + p_g(x)}\Big]
+ \mathbb{E}_{x \sim p_g}\Big[\log \frac{p_g(x)}{p_{data}(x) + p_g(x)}\Big].
$$

Multiply and divide each denominator by 2: each term becomes $-\log 2$ plus a Kullback–Leibler divergence to the
mixture $m = \frac12 (p_{data} + p_g)$ (**Eq. (5)**), and the two KL terms together are twice the Jensen–Shannon
divergence (**Eq. (6)**, Theorem 1):

$$
C(G) = -\log 4 + \mathrm{KL}\Big(p_{data} \,\Big\|\, \tfrac{p_{data} + p_g}{2}\Big)
+ \mathrm{KL}\Big(p_g \,\Big\|\, \tfrac{p_{data} + p_g}{2}\Big)
= -\log 4 + 2 \cdot \mathrm{JSD}(p_{data} \,\|\, p_g).
$$

Since $\mathrm{JSD} \ge 0$ with equality only when $p_g = p_{data}$, the generator's best possible score is
$-\log 4$, reached exactly when it reproduces the data. Below, both sides are computed independently on a grid —
Eq. (4) by integrating the log-ratios, Eq. (6) from the JSD — and by Monte Carlo from samples.
""")

code(r'''
# Left and right of Eq. (6) for the pair above
c_eq4 = theory.value_at_optimum(P_DATA, P_G, X)  # integrate Eq. (4) on the grid
c_eq6 = theory.virtual_training_criterion(P_DATA, P_G, X)  # -log 4 + 2 JSD
jsd = theory.js_divergence(P_DATA, P_G, X)
d_real, d_fake = torch.sigmoid(d_star_logit(x_real)), torch.sigmoid(d_star_logit(x_fake))
c_mc = theory.value_function(d_real, d_fake)  # Eq. (1) with D*, Monte Carlo from 20,000 + 20,000 samples
print(f"JSD(p_data || p_g) = {jsd:.5f} nats   (0 <= JSD <= log 2 = {math.log(2):.5f})")
print(f"C(G) from Eq. (4): {c_eq4:.6f}   from Eq. (6): {c_eq6:.6f}   Monte Carlo: {c_mc:.4f}")
assert abs(c_eq4 - c_eq6) < 1e-8 and abs(c_mc - c_eq6) < 0.02

# JSD sanity checks: identical densities -> 0; (numerically) disjoint ones -> log 2
assert abs(theory.js_divergence(P_DATA, P_DATA, X)) < 1e-12
far = torch.exp(-0.5 * ((X - 5.0) / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi))
near = torch.exp(-0.5 * ((X + 5.0) / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi))
assert abs(theory.js_divergence(far, near, X) - math.log(2)) < 1e-6
''')

md(r"""
Now move the generator. Let $p_g = \mathcal{N}(\mu, 0.5^2)$ slide across the data from far left to far right, and
plot $C(G)$ against $\mu$.
""")

code(r'''
mus = torch.linspace(-5.5, 5.5, 89, dtype=torch.float64)
c_jsd, c_int = [], []
for mu in mus:
    p_g_mu = torch.exp(-0.5 * ((X - mu) / 0.5) ** 2) / (0.5 * math.sqrt(2 * math.pi))
    c_jsd.append(theory.virtual_training_criterion(P_DATA, p_g_mu, X).item())
    c_int.append(theory.value_at_optimum(P_DATA, p_g_mu, X).item())
c_jsd, c_int = np.array(c_jsd), np.array(c_int)
assert np.abs(c_jsd - c_int).max() < 1e-8  # Eq. (4) == Eq. (6) for every generator

fig, ax = plt.subplots(figsize=(7, 3.4))
ax.plot(mus, c_jsd, lw=3, alpha=0.5, label=r"$-\log 4 + 2\,\mathrm{JSD}$ (Eq. 6)")
ax.plot(mus, c_int, "k--", lw=1, label="integral of Eq. (4)")
ax.axhline(-math.log(4), color="C2", ls=":", label=r"$-\log 4$ (only if $p_g = p_{data}$)")
ax.axhline(0.0, color="C3", ls=":", label=r"$-\log 4 + 2 \log 2 = 0$ (disjoint)")
ax.set(xlabel=r"generator mean $\mu$ ($p_g = N(\mu, 0.5^2)$)", ylabel="C(G)", title="the generator's criterion")
ax.legend(fontsize=8)
plt.show()
print(f"C(G) at the best mu = {c_jsd.min():.3f} (> -log 4 = {-math.log(4):.3f}: one bump cannot match two)")
print(f"C(G) for mu = -5.5: {c_jsd[0]:.4f}, for mu = -4.5: {c_jsd[mus.sub(-4.5).abs().argmin()]:.4f}  (flat!)")
''')

md(r"""
Two lessons sit in that curve.

- The minima are at $\mu \approx \pm 2$: a single Gaussian generator does best by covering **one** of the two modes
  well, not by sitting between them — a first look at why GANs tend to drop modes rather than blur them.
- Far from the data, $p_g$ and $p_{data}$ barely overlap, the JSD is stuck at $\log 2$ and $C(G)$ is **flat**: an
  optimal discriminator gives the generator no slope to follow. In high dimensions, where real images and early
  fakes live on thin, non-overlapping sets, this is the normal situation. Notebook 04 shows how the Wasserstein
  distance and gradient penalties repair it.

## 4. Saturating vs non-saturating generator loss

In Eq. (1) the generator minimises $\mathbb{E}_z[\log(1 - D(G(z)))]$, the **saturating** (minimax) loss. Section 3 of
the paper recommends instead maximising $\log D(G(z))$, i.e. minimising the **non-saturating** loss

$$
L_G = -\mathbb{E}_{z \sim p_z}\big[\log D(G(z))\big].
$$

Both push $D(G(z))$ up and have the same fixed point. The difference is in the gradient. With $D = \sigma(a)$ and the
logit $a$ the quantity back-propagation passes into the generator:

$$
\frac{\partial}{\partial a} \log(1 - \sigma(a)) = -D(G(z)), \qquad
\frac{\partial}{\partial a} \big(-\log \sigma(a)\big) = -\big(1 - D(G(z))\big).
$$

Early in training the fakes are bad, the discriminator rejects them confidently, $D(G(z)) \approx 0$ — and the
saturating gradient is $\approx 0$ exactly when the generator most needs a signal.
""")

code(r'''
d_grid = torch.linspace(1e-3, 1 - 1e-3, 999, dtype=torch.float64)
curves = theory.generator_loss_gradients(d_grid)  # wrt the logit
curves_p = theory.generator_loss_gradients(d_grid, wrt="probability")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
axes[0].plot(d_grid, curves.saturating, label=r"saturating $\log(1 - D)$")
axes[0].plot(d_grid, curves.non_saturating, label=r"non-saturating $-\log D$")
axes[0].set(xlabel="D(G(z))", ylabel="generator loss (minimised)", title="losses", ylim=(-5, 5))
axes[1].plot(d_grid, curves.grad_saturating, label="saturating")
axes[1].plot(d_grid, curves.grad_non_saturating, label="non-saturating")
axes[1].set(xlabel="D(G(z))", ylabel="d loss / d logit", title="gradient w.r.t. the logit")
axes[2].plot(d_grid, curves_p.grad_saturating, label="saturating")
axes[2].plot(d_grid, curves_p.grad_non_saturating, label="non-saturating")
axes[2].set(xlabel="D(G(z))", ylabel="d loss / d D", title="gradient w.r.t. the probability", ylim=(-20, 0))
for ax in axes:
    ax.axvspan(0, 0.1, color="C3", alpha=0.1)
    ax.legend(fontsize=8)
axes[1].annotate("early training:\nD rejects the fakes", (0.05, -0.5), fontsize=8, color="C3")
plt.tight_layout()
plt.show()

# The library's logit-based losses have exactly these gradients:
logits = torch.logit(d_grid.float()).requires_grad_(True)
for kind, expected in [("minimax", curves.grad_saturating), ("ns", curves.grad_non_saturating)]:
    (g,) = torch.autograd.grad(generator_loss(kind, logits) * len(logits), logits)  # per-sample gradients
    assert torch.allclose(g.double(), expected, atol=1e-5), kind
''')

md(r"""
### The stall, measured

Take a single-layer generator whose samples sit around $-2$ while the data sits around $+2$, let a discriminator
learn to reject them, and compare the gradient the generator receives under the two losses (the library's
`generator_loss("minimax")` and `generator_loss("ns")`).
""")

code(r'''
torch.manual_seed(0)
target = gaussian_mixture_1d(means=(2.0,), stds=(0.5,))
g_bad = SingleLayerGenerator(z_dim=1, data_dim=1)  # G(z) = W_G z + b_G
with torch.no_grad():
    g_bad.linear.weight.fill_(0.5)
    g_bad.linear.bias.fill_(-2.0)  # fakes ~ N(-2, 0.5^2), data ~ N(2, 0.5^2)


def sample_bad(n, generator=None):
    with torch.no_grad():
        return g_bad(sample_noise(n, 1, generator=generator))


d_strong = ToyDiscriminator(data_dim=1, hidden=(32, 32))
fit_discriminator(d_strong, target.sample, sample_bad, steps=SIZES["fit_steps"], lr=3e-3, generator_rng=GEN)
z = sample_noise(1024, 1, generator=GEN)
fake_logits = d_strong(g_bad(z))
print(f"mean D(G(z)) = {torch.sigmoid(fake_logits).mean():.4f}  (the discriminator rejects the fakes)")
grad_norms = {}
for kind in ("minimax", "ns"):
    g_bad.zero_grad()
    generator_loss(kind, d_strong(g_bad(z))).backward()
    grad_norms[kind] = torch.cat([p.grad.flatten() for p in g_bad.parameters()]).norm().item()
    print(f"{kind:>8} generator loss: |grad wrt (W_G, b_G)| = {grad_norms[kind]:.5f}")
print(f"the non-saturating gradient is {grad_norms['ns'] / grad_norms['minimax']:.0f} times larger")
assert grad_norms["ns"] > 20 * grad_norms["minimax"]
''')

md(r"""
With plain gradient descent that ratio is the ratio of the step sizes: the saturating generator barely moves until
it is already fooling the discriminator. (Adaptive optimisers like Adam rescale small gradients, which hides part of
the problem, but the per-sample weighting stays wrong: under the saturating loss the fakes that are rejected most
confidently — the worst ones — contribute least.) From here on the course uses the non-saturating loss, called
`"ns"` in `sdgan_course.losses`, and keeps `"minimax"` only for comparisons.

## 5. The single-layer GAN: what it can and cannot represent

The smallest models that make the game are

$$
G(z) = \mathrm{act}(W_G z + b_G), \qquad D(x) = \sigma(W_D x + b_D),
$$

(`SingleLayerGenerator`, `SingleLayerDiscriminator` in `sdgan_course.toy`; $D$'s last step is the sigmoid, and its
`forward` returns the logit $W_D x + b_D$.) Two limits follow from the formulas alone:

- With a linear activation and $z \sim \mathcal{N}(0, I)$, $G(z) \sim \mathcal{N}(b_G, W_G W_G^\top)$: an affine map of
  a Gaussian is a Gaussian. **It cannot make two modes**, whatever it is trained on. (A monotone activation such as
  `tanh` only bends the one bump.)
- $D$'s decision boundary $W_D x + b_D = 0$ is a point in 1-D and a straight line in 2-D: $D$ is monotone along one
  direction, so it **cannot represent** the non-monotone $D^*$ of part 2.

Train a linear single-layer generator on the two-bump data, against an MLP discriminator (so that the
discriminator is not the weak link), then fit a single-layer discriminator against the trained generator:
""")

code(r'''
torch.manual_seed(0)
g_lin, d_for_lin = SingleLayerGenerator(z_dim=1, data_dim=1), ToyDiscriminator(data_dim=1, hidden=(32, 32))
run_lin = train_toy_gan(g_lin, d_for_lin, p_data.sample, steps=SIZES["toy_steps"], lr=5e-3, snapshot_size=5000,
                        generator_rng=torch.Generator().manual_seed(0), device=TOY_DEVICE)  # fmt: skip
samples = run_lin.snapshots[-1].samples.squeeze(1)  # (5000,)
w_g, b_g = g_lin.linear.weight.item(), g_lin.linear.bias.item()


def kurtosis(v):
    v = (v - v.mean()) / v.std()
    return (v**4).mean().item()


data_samples = p_data.sample(5000, generator=GEN).squeeze(1)
print(f"trained G(z) = {w_g:.2f} z + {b_g:.2f}, i.e. p_g = N({b_g:.2f}, {abs(w_g):.2f}^2)")
print(f"kurtosis: generated {kurtosis(samples):.2f} (a Gaussian's is 3), data {kurtosis(data_samples):.2f}")
assert abs(kurtosis(samples) - 3.0) < 0.3 and kurtosis(data_samples) < 1.6  # one bump vs two
assert abs(abs(b_g) - 2.0) < 0.3 and abs(abs(w_g) - 0.5) < 0.2  # it sits on one of the two modes

# a single-layer (logistic) discriminator fitted against this generator, vs D* and the MLP discriminator
p_g_now = torch.exp(-0.5 * ((X - b_g) / abs(w_g)) ** 2) / (abs(w_g) * math.sqrt(2 * math.pi))


def sample_lin(n, generator=None):
    with torch.no_grad():
        return g_lin(sample_noise(n, 1, generator=generator))  # (n, 1)


d_logistic = SingleLayerDiscriminator(data_dim=1)
fit_discriminator(d_logistic, p_data.sample, sample_lin, steps=SIZES["fit_steps"], lr=1e-2, generator_rng=GEN)
with torch.no_grad():
    d_logistic_curve = d_logistic.probability(X.float()[:, None])
    d_mlp_curve = torch.sigmoid(d_for_lin(X.float()[:, None]))

fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].hist(samples.numpy(), bins=80, range=(-5, 5), density=True, alpha=0.6, label="linear single-layer G")
axes[0].plot(X, P_DATA, "k", label="$p_{data}$")
axes[0].set(xlabel="x", title="a linear G makes one Gaussian", xlim=(-5, 5))
axes[0].legend(fontsize=8)
axes[1].plot(X, theory.optimal_discriminator(P_DATA, p_g_now), "k", lw=3, alpha=0.4, label="$D^*$ for this G")
axes[1].plot(X, d_mlp_curve, "C0", label="MLP D (trained with G)")
axes[1].plot(X, d_logistic_curve, "C3", label=r"single-layer $D = \sigma(W_D x + b_D)$")
axes[1].set(xlabel="x", title="a logistic D is monotone; D* is not", xlim=(-5, 5), ylim=(-0.05, 1.05))
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()
''')

md(r"""
The generator picked **one** of the two bumps and matched it — mean $\pm 2$, standard deviation about $0.5$, the
minimum of $C(G)$ for a single Gaussian found in part 3. It cannot make the second bump. The MLP discriminator tracks
$D^*$, which is high over the dropped bump: it "knows" what is missing, but a linear generator has no way to act on
it. The logistic discriminator can only draw one S-shaped curve: it says "further this way is more real" and
cannot point at a bump.

In 2-D the same limit is stark. The ring of 8 Gaussians has mean $0$; so does a plain Gaussian blob. A logistic
discriminator can only compare the two along one direction, so it **cannot tell them apart at all**, while a small
MLP separates them easily:
""")

code(r'''
ring = ring_of_gaussians()  # 8 modes on a circle of radius 2, std 0.05


def sample_blob(n, generator=None):
    return math.sqrt(2.0) * torch.randn(n, 2, generator=generator)  # same mean and covariance as the ring


torch.manual_seed(0)
d_line, d_mlp = SingleLayerDiscriminator(data_dim=2), ToyDiscriminator(data_dim=2, hidden=(64, 64))
for d in (d_line, d_mlp):
    fit_discriminator(d, ring.sample, sample_blob, steps=SIZES["fit_steps"], lr=3e-3, generator_rng=GEN)

test_real, test_fake = ring.sample(4000, generator=GEN), sample_blob(4000, generator=GEN)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
accuracy = {}
for ax, (name, d) in zip(axes, [("single-layer D", d_line), ("MLP D", d_mlp)]):
    with torch.no_grad():
        accuracy[name] = 0.5 * ((d(test_real) > 0).float().mean() + (d(test_fake) < 0).float().mean()).item()
        g1 = torch.linspace(-3, 3, 121)
        gx, gy = torch.meshgrid(g1, g1, indexing="xy")
        prob = torch.sigmoid(d(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1))).reshape(121, 121)
    im = ax.imshow(prob.numpy(), origin="lower", extent=(-3, 3, -3, 3), cmap="coolwarm", vmin=0, vmax=1)
    scatter_2d(test_fake[:300], ax=ax, color="k", s=2, alpha=0.3)
    scatter_2d(test_real[:300], ax=ax, color="w", s=3, alpha=0.8, title=f"{name}: accuracy {accuracy[name]:.0%}")
fig.colorbar(im, ax=axes, label="D(x)", shrink=0.8)
plt.show()
assert accuracy["single-layer D"] < 0.6 < 0.8 < accuracy["MLP D"]
''')

md(r"""
(White: ring samples; black: blob samples; colour: $D(x)$.) The logistic discriminator is no better than a coin, so a
generator trained against it would get no pressure to form a ring. **Both networks need hidden layers**: a
generator to bend one Gaussian into many modes, a discriminator to see where they are.

## 6. An MLP GAN on the ring of 8 Gaussians

Now the real thing at toy scale: `ToyGenerator` (2-D noise → two hidden layers → 2-D point) against
`ToyDiscriminator`, non-saturating loss, Adam, one discriminator step then one generator step each iteration
(`sdgan_course.train.gan_train_step`, called by `sdgan_course.toy.train_ring_gan`). The samples are always drawn from
the same fixed noise, so you can follow them.

A sample is **high quality** when it lies within 3 standard deviations of its nearest mode; a mode is **covered** when
it receives at least 5 % of the samples a perfect generator would put there (`sdgan_course.toy.count_modes`, after
Srivastava et al. 2017, arXiv:1705.07761).
""")

code(r'''
good = train_ring_gan(**RING, loss="ns", seed=0)
cov = good.coverage
print(f"{RING['steps']} steps in {good.run.seconds:.1f} s: {cov.modes_covered}/8 modes covered, "
      f"{cov.high_quality_fraction:.0%} high-quality samples; per mode {cov.counts.tolist()}")
assert cov.modes_covered >= 6


def show_snapshots(result, title, panels=6):
    snaps = result.run.snapshots
    picks = np.linspace(0, len(snaps) - 1, panels).round().astype(int)
    fig, axes = plt.subplots(1, panels, figsize=(2.1 * panels, 2.3))
    for ax, i in zip(axes, picks):
        means = ring.means.float()
        ax.scatter(means[:, 0], means[:, 1], s=60, facecolors="none", edgecolors="C2")
        scatter_2d(snaps[i].samples[:1000], ax=ax, s=1, color="C0")
        ax.set_title(f"step {snaps[i].step}: {result.coverage_over_time[i]} modes", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    plt.tight_layout()
    plt.show()


show_snapshots(good, "non-saturating GAN, balanced learning rates (green circles: the 8 modes)")
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
plot_curves({k: good.run.history[k] for k in ("loss_d", "loss_g")}, ax=axes[0], smooth=25, title="losses")
axes[0].axhline(math.log(4), color="grey", ls=":")  # L_D at the equilibrium, D = 1/2 everywhere
plot_curves({k: good.run.history[k] for k in ("d_real", "d_fake")}, ax=axes[1], smooth=25,
            title="mean D(x) on real and fake")  # fmt: skip
axes[1].axhline(0.5, color="grey", ls=":")
plt.tight_layout()
plt.show()
''')

md(r"""
Note what the curves do *not* do: neither loss goes to zero, and neither tracks the picture above. At the equilibrium
of the game $D(x) = \frac12$ everywhere and the discriminator's loss is $\log 4 \approx 1.39$ (dotted line); here
the discriminator stays somewhat better than a coin ($D$ a little above $\frac12$ on real data, a little below on
fakes) because the fakes are not yet perfect, and its loss drifts *down* while the samples get *better*. A GAN's loss
is not a progress bar — which is why we count modes.

## 7. Mode collapse, made visible — and fixed

Mode collapse is the generator putting all its samples on one or a few modes. It happens when the generator can
out-run the discriminator: it moves everything to wherever $D$ currently says "real", $D$ catches up and rejects that
spot, and the whole crowd moves on to the next mode. A reliable way to provoke it is a **discriminator that learns
three times more slowly** than the generator ($\mathrm{lr}_D = \mathrm{lr}_G / 3$). Same models, same seed, same
number of steps:
""")

code(r'''
weak = train_ring_gan(**ring_preset(PROFILE, lr_d=RING["lr"] / 3), loss="ns", seed=0)
show_snapshots(weak, "weak discriminator (lr_D = lr_G / 3): the samples move as one clump, from mode to mode")


def largest_share(samples):
    nearest = torch.cdist(samples.double(), ring.means).argmin(1)
    return torch.bincount(nearest, minlength=8).max().item() / len(samples)


rows = [("weak D: lr_D = lr_G / 3", weak), ("balanced: lr_D = lr_G", good)]
mid = len(good.run.snapshots) // 2  # the snapshot half-way through training
print(f"{'setup':<26}{'modes: final':>13}{'mean over training':>20}{'high quality':>14}{'largest share (mid)':>21}")
for name, result in rows:
    c = result.coverage
    mean_modes = np.mean(result.coverage_over_time[1:])  # every snapshot after step 0
    share = largest_share(result.run.snapshots[mid].samples)
    print(f"{name:<26}{c.modes_covered:>9} / 8{mean_modes:>16.1f} / 8{c.high_quality_fraction:>14.0%}{share:>21.0%}")
assert np.mean(weak.coverage_over_time[1:]) < np.mean(good.coverage_over_time[1:]) - 2
assert good.coverage.modes_covered >= 6

fig, ax = plt.subplots(figsize=(6, 2.8))
steps_axis = [s.step for s in good.run.snapshots]
ax.plot(steps_axis, good.coverage_over_time, "o-", label="balanced")
ax.plot([s.step for s in weak.run.snapshots], weak.coverage_over_time, "s-", label="weak D (collapses)")
ax.set(xlabel="step", ylabel="modes covered", ylim=(-0.3, 8.3), title="modes covered over training")
ax.legend()
plt.show()
''')

md(r"""
While the discriminator lags, the generator's samples travel as one clump; the balanced run spreads over the ring
within a few hundred steps. Given more steps a lagging discriminator sometimes catches up and the clump breaks apart
(run the `cpu` profile, or try other seeds) — but the steps spent collapsed are wasted, and whether it recovers is
luck. That is why the table reports the modes covered **averaged over training**, not only at the end.

The cure here is to let the discriminator keep up: equal learning rates (or $k > 1$ discriminator steps per
generator step, the $k$ of Algorithm 1 in the paper; try `n_critic=5` in the exercise below). Notebook 04 compares
the stronger fixes — other losses, gradient penalties and spectral normalisation — on this same ring, with the same
mode count.

## Summary

- The value function $V(D, G)$ (Eq. 1) is a binary cross-entropy game; $D$ ends in a sigmoid (or its logit feeds a
  logit-based loss), and the generator's loss averages over **noise** $z \sim p_z$.
- For a fixed $G$ the best discriminator is the density ratio $D^* = p_{data} / (p_{data} + p_g)$ (Eq. 2); a trained
  network finds it where there are samples.
- Against $D^*$, the generator minimises $C(G) = -\log 4 + 2\,\mathrm{JSD}(p_{data} \| p_g)$ (Eq. 6), minimal exactly
  when $p_g = p_{data}$ — and flat when the two do not overlap.
- The saturating loss $\log(1 - D(G(z)))$ has gradient $-D(G(z)) \approx 0$ early in training; the non-saturating
  $-\log D(G(z))$ does not stall.
- A single-layer generator with a linear activation makes one Gaussian; a single-layer discriminator draws one
  straight boundary. Hidden layers are what let a GAN model many modes.
- Mode collapse is visible on the ring and measurable with `count_modes`; a discriminator that keeps up prevents it
  here.

## Exercises

Each cell holds a reference answer and a check; change the answer, run the cell, and see whether the check agrees.
""")

code(r'''
# 1. At a point where p_data(x) = 0.3 and p_g(x) = 0.1, what does the optimal discriminator output?
answer_1 = 0.75
assert abs(answer_1 - theory.optimal_discriminator(torch.tensor(0.3), torch.tensor(0.1)).item()) < 1e-9

# 2. The generator reproduces the data exactly. What is C(G)? (a number, to 3 decimals)
answer_2 = -1.386
assert abs(answer_2 - theory.virtual_training_criterion(P_DATA, P_DATA, X).item()) < 1e-3

# 3. When D(G(z)) = 0.01, what is the gradient of each generator loss w.r.t. the logit?
answer_3 = {"minimax": -0.01, "ns": -0.99}
c3 = theory.generator_loss_gradients(torch.tensor([0.01], dtype=torch.float64))
assert abs(answer_3["minimax"] - c3.grad_saturating.item()) < 1e-9
assert abs(answer_3["ns"] - c3.grad_non_saturating.item()) < 1e-9

# 4. Write the Jensen-Shannon divergence yourself (trapezoid rule on the grid X) and compare with the library.
def my_jsd(p, q, x):
    m = 0.5 * (p + q)
    kl_pm = torch.trapezoid(torch.xlogy(p, p) - torch.xlogy(p, m), x)
    kl_qm = torch.trapezoid(torch.xlogy(q, q) - torch.xlogy(q, m), x)
    return 0.5 * (kl_pm + kl_qm)


assert abs(my_jsd(P_DATA, P_G, X) - theory.js_divergence(P_DATA, P_G, X)) < 1e-10

# 5. How many modes do these samples cover? (800 points on modes 0, 2 and 4, 200 far from any mode)
gen5 = torch.Generator().manual_seed(5)
pts = torch.cat([ring.means[k].float() + 0.03 * torch.randn(800 // 3 + 1, 2, generator=gen5) for k in (0, 2, 4)]
                + [0.2 * torch.randn(200, 2, generator=gen5)])  # fmt: skip
answer_5 = 3
assert answer_5 == count_modes(pts, ring).modes_covered

# 6. (Open) Re-run part 7 with the weak discriminator and n_critic=5 (five D steps per G step):
#    train_ring_gan(**ring_preset(PROFILE, lr_d=RING["lr"] / 3, n_critic=5), seed=0)
#    Does it cover more modes? How much longer does it take? Try seeds 0-4 before you conclude anything.
print(f"all exercises check out; notebook ran in {time.perf_counter() - T0:.1f} s")
''')

md(r"""
## References

- Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville, Bengio 2014. *Generative adversarial nets*.
  arXiv:1406.2661 — Eq. (1) the value function, Eq. (2) the optimal discriminator, Eq. (3)–(4) the value at a fixed
  $G$, Eq. (5)–(6) $C(G)$ with KL and JSD; Section 3 the non-saturating loss; Algorithm 1 the $k$ discriminator steps.
- Lin 1991. *Divergence measures based on the Shannon entropy*. IEEE Transactions on Information Theory 37(1) (the
  Jensen–Shannon divergence).
- Srivastava, Valkov, Russell, Gutmann, Sutton 2017. *VEEGAN: reducing mode collapse in GANs using implicit
  variational learning*. arXiv:1705.07761 (the ring benchmark, high-quality samples and modes covered).
- Metz, Poole, Pfau, Sohl-Dickstein 2016. *Unrolled generative adversarial networks*. arXiv:1611.02163 (mode
  collapse on mixtures of Gaussians).
- Arjovsky, Bottou 2017. *Towards principled methods for training generative adversarial networks*. arXiv:1701.04862
  (why disjoint supports leave the generator without gradient).
""")

nb.write()
