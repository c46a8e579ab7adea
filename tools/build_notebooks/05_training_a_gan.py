"""Build notebooks/05_training_a_gan.ipynb (then render it with tools/render_notebooks.py)."""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("05_training_a_gan")
md, code = nb.md, nb.code


md(r"""
# 05 · Training a GAN

Notebooks 02–04 built the pieces: the objective, the two networks, the losses. Here they meet in a full training run
on Fashion-MNIST — on your CPU or on a GPU — with everything a real run needs: a progress bar, live curves, a fixed set
of noise vectors whose images we watch improve, an exponential moving average of the generator, checkpoints that
survive a crash, a guard against divergence, and finally a generator you can ask for *a sneaker*.

## Goals

- write the GAN training step yourself — **discriminator first, then generator**, with the `.detach()` that keeps them
  apart — and check that it matches the library's `gan_train_step`;
- run the library's training loop and read its live loss curves and sample grids;
- know why we sample from an **EMA** of the generator's weights;
- save, interrupt and **resume** a run exactly, and see the **divergence guard** stop a run that produced NaN while
  keeping the last good checkpoint;
- generate any requested class with a **class-conditional** GAN trained for about an hour on a CPU.

## Prerequisites

Notebook 03 (DCGAN generator and discriminator) and the non-saturating loss from notebooks 02 and 04. PyTorch basics:
optimisers, `backward()`, `state_dict()`.

## Time

| profile | live training | time |
|---|---|---|
| `ci` | 30 steps on 2,000 images | under 30 s |
| `cpu` | 2,000 steps, batch 128 | about 10–15 minutes on a laptop |
| `gpu` | 20,000 steps, batch 256, mixed precision | about 10 minutes |

In every profile the last part loads the **shipped checkpoints** (`data/checkpoints/`), so you see full quality in
seconds.
""")

code(
    colab_setup_source()
    + r'''
import copy
import hashlib
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import HTML, display

from sdgan_course.config import get_profile
from sdgan_course.data import class_index, load_images
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.gan import GANConfig, count_parameters, sample_noise
from sdgan_course.train import (
    DivergenceError,
    GANRun,
    GANTrainConfig,
    gan_train_step,
    generate,
    load_shipped_gan,
    make_gan_optimizers,
    train_gan,
)
from sdgan_course.viz import animate_grids, image_grid, plot_curves, show_images

PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
print(f"profile {PROFILE} | device {describe_device(DEVICE)}")
'''
)

md(r"""
## 1. The data

Fashion-MNIST: 28×28 greyscale garments in ten classes, scaled to the model range [-1, 1] (the generator ends in
`tanh`). The `ci` profile uses a fixed slice of 2,000 images; `cpu` and `gpu` use all 60,000.
""")

code(r'''
train_cfg = GANTrainConfig.preset(PROFILE)
data = load_images("fashion_mnist", "train", limit=train_cfg.train_limit)
print(f"{len(data.images):,} training images, batch size {train_cfg.batch_size}, {train_cfg.steps:,} steps")
assert data.images.shape[1:] == (1, 28, 28) and data.images.min() >= -1 and data.images.max() <= 1
show_images(data.images[:32], nrow=16, title="real Fashion-MNIST images");
''')

md(r"""
## 2. The training step, in plain sight

One GAN step is two optimisation steps with **two separate optimisers** (Goodfellow et al. 2014, Algorithm 1):

1. **Discriminator step.** Draw noise $z \sim p_z$, make fakes $G(z)$, and push $D$ to say *real* on real images and
   *fake* on fakes:
   $\;L_D = -\mathbb{E}_{x\sim p_\text{data}}[\log D(x)] - \mathbb{E}_{z\sim p_z}[\log(1 - D(G(z)))]$.
   The fakes enter through **`.detach()`**: this loss must change $D$ only. Without it, `loss_d.backward()` would also
   fill the generator's gradients with the *discriminator's* objective.
2. **Generator step.** Push $D$ to say *real* on the fakes, with the **non-saturating** loss
   $\;L_G = -\mathbb{E}_{z\sim p_z}[\log D(G(z))]$ — note: noise $z$, not data $x$, goes into $G$. Gradients flow
   *through* $D$ into $G$, but only the generator's optimiser steps.

Our $D$ returns a **logit** $\ell$ with $D(x) = \sigma(\ell)$, so $-\log D = \operatorname{softplus}(-\ell)$ and
$-\log(1-D) = \operatorname{softplus}(\ell)$: the same losses, computed without ever taking the log of a rounded
probability. Here is the whole step, written out:
""")

code(r'''
def my_train_step(G, D, opt_g, opt_d, real, *, z_dim, generator):
    z = sample_noise(real.shape[0], z_dim, device=real.device, generator=generator)  # (B, Z) noise, not data
    fake = G(z)  # (B, 1, 28, 28)

    # 1. discriminator: real -> 1, fake -> 0; fake.detach() keeps this loss away from G
    loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()

    # 2. generator: make the (just updated) D call the fakes real; only opt_g steps
    loss_g = F.softplus(-D(fake)).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


# Same models, same optimiser states, same noise: our step and the library's must agree exactly.
gan_cfg = GANConfig.preset(PROFILE)
run_a = GANRun(gan_cfg, train_cfg, device=DEVICE)
G_b, D_b = copy.deepcopy(run_a.generator), copy.deepcopy(run_a.discriminator)
opt_g_b, opt_d_b = make_gan_optimizers(G_b, D_b)
real = data.images[:16].to(DEVICE)

mine = my_train_step(run_a.generator, run_a.discriminator, run_a.opt_g, run_a.opt_d, real,
                     z_dim=gan_cfg.z_dim, generator=torch.Generator().manual_seed(1))
lib = gan_train_step(G_b, D_b, opt_g_b, opt_d_b, real, loss="ns", z_dim=gan_cfg.z_dim,
                     noise_generator=torch.Generator().manual_seed(1))
print(f"my step:      loss_d {mine[0]:.5f}  loss_g {mine[1]:.5f}")
print(f"library step: loss_d {lib['loss_d']:.5f}  loss_g {lib['loss_g']:.5f}")
for p, q in zip(list(run_a.generator.parameters()) + list(run_a.discriminator.parameters()),
                list(G_b.parameters()) + list(D_b.parameters())):
    assert torch.allclose(p, q, atol=1e-6), "the two steps disagree"
print("Both networks have identical parameters after one step: the library does exactly this.")
''')

md(r"""
The library's `gan_train_step` does the same, plus what the other losses of notebook 04 need (gradient penalty, R1,
weight clipping, several critic steps) and mixed precision on CUDA. It returns a dictionary of floats — losses, the
mean $D$ output on real and fake images, and the gradient norm of each network — which the loop logs.

## 3. The full run: live curves and a fixed-noise film

`GANRun` holds everything a run owns — both networks, their optimisers (Adam, learning rate $2\cdot10^{-4}$,
$\beta_1 = 0.5$, as in the DCGAN paper), the EMA generator, the step counter, the history and the noise generator's
state. `train_gan` is a plain loop around the step. We give it one **hook**, called every few steps, which redraws
the loss curves and the samples of 64 *fixed* noise vectors: the same $z$ every time, so we watch the same 64
"garments" come into focus.
""")

code(r'''
torch.manual_seed(0)
run = GANRun(GANConfig.preset(PROFILE), train_cfg, device=DEVICE)
print(f"generator {count_parameters(run.generator):,} parameters, discriminator {count_parameters(run.discriminator):,}")
fixed_z = sample_noise(64, run.gan_config.z_dim, generator=torch.Generator().manual_seed(123))  # (64, Z)
frames, frame_titles = [], []


def live_view(run, stats):
    with torch.no_grad():
        images = run.ema.model(fixed_z.to(run.device)).float().cpu()  # (64, 1, 28, 28)
    frames.append(image_grid(images, nrow=8))
    frame_titles.append(f"step {run.step}")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_curves({k: run.history.get(k, []) for k in ("loss_d", "loss_g")}, ax=ax1, title=f"losses (a point every {train_cfg.log_every} steps)", xlabel="log point")
    ax2.imshow(frames[-1], cmap="gray", vmin=0, vmax=1)
    ax2.set_title(f"EMA generator, fixed noise, step {run.step}")
    ax2.set_axis_off()
    if view.get("handle") is None:
        view["handle"] = display(fig, display_id=True)
    else:
        view["handle"].update(fig)
    plt.close(fig)


view = {}
checkpoint = Path("runs/05_training_a_gan/checkpoint.pt")
hook_every = max(train_cfg.steps // 10, 1)
result = train_gan(run, data.images, checkpoint_path=checkpoint, hook=live_view, hook_every=hook_every,
                   progress=PROFILE != "ci")
print(f"{run.step} steps in {result.seconds:.1f} s: {result.images_per_second:.0f} images/s on {DEVICE.type}")
assert run.step == train_cfg.steps and len(frames) >= 2
assert all(torch.isfinite(torch.tensor(run.history["loss_d"])))
''')

md(r"""
**Reading the curves.** GAN losses do not go to zero: the two players pull against each other, and a healthy run
has both losses hovering (here $L_D$ around 0.5–1.4 and $L_G$ around 0.7–3). Warning signs are $L_D \to 0$ with
$L_G$ climbing (the discriminator has won and the generator's gradients carry no information) or losses that turn
NaN — the guard below catches that.

The film of the fixed-noise grid across training (in the `ci` profile only a few steps, so mostly blobs — the
shipped checkpoints below show what an hour of training makes):
""")

code(r'''
anim = animate_grids(frames, titles=frame_titles, interval=400)
HTML(anim.to_jshtml())
''')

md(r"""
## 4. Why sample from an EMA of the weights?

The generator's weights keep moving as the two players chase each other; the latest iterate is one noisy point of
that orbit. An **exponential moving average** $\bar\theta \leftarrow \beta\bar\theta + (1-\beta)\theta$ with
$\beta = 0.999$ averages the orbit and usually gives cleaner, more stable samples (Yazıcı et al. 2019,
arXiv:1806.04498; used by ProGAN, StyleGAN and most diffusion models). It costs one extra copy of the generator and is
never trained directly. Left: the raw generator; right: its EMA — after a short run they differ a lot, because the
EMA still remembers the random initial weights (its warm-up shortens that memory early on).
""")

code(r'''
with torch.no_grad():
    raw = run.generator.eval()(fixed_z[:32].to(DEVICE)).cpu()
    ema = run.ema.model(fixed_z[:32].to(DEVICE)).cpu()
run.generator.train()
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8))
show_images(raw, nrow=8, ax=axes[0], title="raw generator")
show_images(ema, nrow=8, ax=axes[1], title="EMA generator");
''')

md(r"""
## 5. Checkpoints: save, interrupt, resume — exactly

A checkpoint holds the whole run: weights, optimiser moments, EMA, step, history, the noise generator's state and the
configs (`asdict(config)`, so it rebuilds its own models). Data batches depend only on the step number, so a resumed
run continues **exactly** as if it had never stopped. Writes are **atomic**: the file is written beside the target
and renamed over it, so a crash mid-save leaves the previous checkpoint intact.

Below, one copy trains straight on; another is saved, reloaded from disk, then trained the same number of steps.
""")

code(r'''
extra = 3
path = Path("runs/05_training_a_gan/resume_demo.pt")
run.save(path)
resumed = GANRun.load(path, device=DEVICE, train_config=train_cfg)
target = run.step + extra
train_gan(run, data.images, steps=target, progress=False)
train_gan(resumed, data.images, steps=target, progress=False)
same = all(torch.equal(a, b) for a, b in zip(run.generator.state_dict().values(),
                                             resumed.generator.state_dict().values()))
print(f"straight run and resumed run after step {target}: identical generator weights = {same}")
assert same
''')

md(r"""
## 6. The divergence guard

Sometimes a run blows up: a learning rate too high, a discriminator too strong, an fp16 overflow. The first sign is
usually a NaN or a huge gradient norm — and from then on every step makes the weights worse. `train_gan` checks every
step; on NaN/inf or a gradient norm above `max_grad_norm` it **stops**, says what happened and what to try, and leaves
the last good checkpoint untouched. Here we inject a NaN into the discriminator to see it fire:
""")

code(r'''
def digest(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()[:12]


broken = GANRun.load(checkpoint, device=DEVICE, train_config=train_cfg)
before = digest(checkpoint)
with torch.no_grad():
    next(broken.discriminator.parameters()).fill_(float("nan"))  # simulate a blow-up
try:
    train_gan(broken, data.images, steps=broken.step + 5, checkpoint_path=checkpoint, progress=False)
    raise AssertionError("the guard should have fired")
except DivergenceError as err:
    print("DivergenceError:", err)
assert digest(checkpoint) == before
print(f"checkpoint {checkpoint} unchanged (sha256 {before}...)")
''')

md(r"""
## 7. An hour of CPU: the shipped checkpoints

Two checkpoints ship with the course in `data/checkpoints/` (how they were made — command, time, hardware — is in
`data/checkpoints/README.md`): an unconditional DCGAN and a **class-conditional** one, both the `cpu` profile's
architecture trained for about an hour on one CPU core with the command line of section 8. They hold the EMA
generator and the discriminator.
""")

code(r'''
uncond = load_shipped_gan("gan_fashion_mnist", device=DEVICE)
print(f"unconditional: step {uncond.step:,}, generator {count_parameters(uncond.generator):,} parameters")
samples = generate(uncond.generator, 64, z_dim=uncond.config.z_dim, generator_rng=torch.Generator().manual_seed(0))
assert samples.shape == (64, 1, 28, 28) and samples.min() >= -1 and samples.max() <= 1
show_images(samples, nrow=16, title="unconditional GAN: 64 random samples");
''')

md(r"""
### Class-conditional generation: "draw me a sneaker"

A conditional generator $G(z, y)$ takes a label as well as noise (here a learned label embedding concatenated to
$z$), and the conditional discriminator judges (image, label) pairs — here it reads the label as ten extra one-hot
input channels (Mirza and Osindero 2014, arXiv:1411.1784) — so a perfect-looking *bag* labelled *sneaker* is still
caught.

A lesson from making this checkpoint. Our first two conditional runs used the **projection discriminator** (Miyato
and Koyama 2018, arXiv:1802.05637) — once with this notebook's recipe (non-saturating loss, batch norm), once with
that paper's (hinge loss, spectral normalisation) — and both **collapsed within each class**: every sneaker nearly
the same image. Measured as the pixel standard deviation across samples of one class (averaged over classes), real
Fashion-MNIST has 0.39; the two projection runs reached only 0.11 and 0.19, while the one-hot discriminator shipped
here reached 0.32 within 4,500 steps (0.33 at the end) — and the unconditional GAN, which has no label to lean on, matches the real
spread (measured per predicted class). The cell after the grid measures it for the shipped model. One row per class, ten noise vectors
each:
""")

code(r'''
cond = load_shipped_gan("cgan_fashion_mnist", device=DEVICE)
class_names = data.class_names
labels = torch.arange(10).repeat_interleave(10)  # (100,) 0,0,...,1,1,...
per_class = generate(cond.generator, 100, z_dim=cond.config.z_dim, labels=labels,
                     generator_rng=torch.Generator().manual_seed(0))
show_images(per_class, nrow=10, row_labels=class_names, title="conditional GAN: one class per row", figsize_per_image=0.7);
''')

code(r'''
def draw(what: str, n: int = 8, seed: int = 0) -> torch.Tensor:
    """Generate n images of a named class, e.g. draw("sneaker")."""
    label = class_index(class_names, what)
    return generate(cond.generator, n, z_dim=cond.config.z_dim, labels=label,
                    generator_rng=torch.Generator().manual_seed(seed))


sneakers = draw("sneaker")
assert sneakers.shape == (8, 1, 28, 28)
show_images(sneakers, nrow=8, title="draw('sneaker')");
''')

md(r"""
Is there variety *within* a class, or one sneaker drawn over and over? Measure it: the pixel standard deviation
across many samples of one class, for real images and for generated ones.
""")

code(r'''
for name in ("sneaker", "dress", "bag"):
    k = class_index(class_names, name)
    real_std = data.images[data.labels == k].std(dim=0).mean().item()
    fake_std = draw(name, n=256, seed=1).std(dim=0).mean().item()
    print(f"{class_names[k]:<8} pixel std across samples: real {real_std:.3f}, generated {fake_std:.3f}")
    assert fake_std > 0.5 * real_std, f"the {name}s have collapsed to (nearly) one image"
''')

md(r"""
Try other classes with the widget (it needs a live kernel; the static picture above is the fallback). Change the
seed to see that the same class comes in many styles — the noise carries everything the label does not.
""")

code(r'''
import ipywidgets as widgets

out = widgets.Output()


def redraw(what=class_names[7], seed=0):
    with out:
        out.clear_output(wait=True)
        show_images(draw(what, n=16, seed=seed), nrow=16, title=f"draw({what!r}, seed={seed})")
        plt.show()


widgets.interact(redraw, what=widgets.Dropdown(options=list(class_names), value=class_names[7]),
                 seed=widgets.IntSlider(value=0, min=0, max=50))
display(out);
''')

md(r"""
## 8. The same, from the command line

Everything above is also a command, which is how the shipped checkpoints were made (runs resume automatically when
`DIR/checkpoint.pt` exists; `Ctrl-C` and run it again):

```bash
python -m sdgan_course train gan --dataset fashion_mnist --loss ns --profile cpu --out runs/gan
python -m sdgan_course train gan --dataset fashion_mnist --loss ns --conditional --profile cpu --out runs/cgan
python -m sdgan_course sample gan --checkpoint runs/cgan/checkpoint.pt --n 16 --label 7 --out sneakers.npz
python -m sdgan_course bench gan     # training throughput (images/s) and share of this machine's matmul peak
```

`--loss` takes `ns`, `minimax`, `lsgan`, `hinge`, `wgan` and `wgan-gp` (the last two with their papers' optimiser
settings and 5 critic steps per generator step).

## Summary

- A GAN step is a **discriminator** step (real vs. **detached** fakes) followed by a **generator** step
  (non-saturating loss on noise $z \sim p_z$), with **separate optimisers**.
- Sample from an **EMA** of the generator's weights.
- Checkpoints hold the whole run (models, optimisers, EMA, RNG state, configs) and are written **atomically**; a
  resumed run continues exactly.
- Watch for divergence: NaN or exploding gradient norms stop the run and keep the last good checkpoint.
- A conditional GAN takes a label as well as noise and can draw any requested class.

## Exercises

Each exercise has a cell that checks your answer; it is filled in with a reference answer so the notebook runs —
replace it with yours.

**1.** Forget the `.detach()`: compute the discriminator loss on `D(fake)` instead of `D(fake.detach())` and call
`backward()`. Does the *generator* now have gradients? Set `answer_1` to `True` or `False`.
""")

code(r'''
G_x, D_x = copy.deepcopy(run.generator), copy.deepcopy(run.discriminator)
fake = G_x(sample_noise(8, run.gan_config.z_dim, device=DEVICE))
loss_d_wrong = F.softplus(-D_x(real[:8])).mean() + F.softplus(D_x(fake)).mean()  # no .detach()
loss_d_wrong.backward()
generator_got_gradients = any(p.grad is not None and p.grad.abs().sum() > 0 for p in G_x.parameters())

answer_1 = True  # <- your answer
assert answer_1 == generator_got_gradients, "Look again: does the graph from loss_d reach G's parameters?"
print("Correct: without .detach(), the discriminator's loss would push gradients into the generator.")
''')

md(r"""
**2.** WGAN-GP trains the critic several times per generator step. How many, in the library's preset (which follows
Gulrajani et al. 2017, Algorithm 1)? Set `answer_2`.
""")

code(r'''
answer_2 = 5  # <- your answer
assert answer_2 == GANTrainConfig.preset("cpu", loss="wgan-gp").n_critic
print("Correct: n_critic = 5.")
''')

md(r"""
**3.** Write `draw_grid(names, n)` that returns `n` images of each named class, stacked class by class, shape
`(len(names) * n, 1, 28, 28)`. Use `draw`.
""")

code(r'''
def draw_grid(names, n):
    return torch.cat([draw(name, n=n) for name in names])  # <- your code


grid = draw_grid(["bag", "trouser", "ankle boot"], 4)
assert grid.shape == (12, 1, 28, 28)
assert torch.equal(grid[4:8], draw("trouser", n=4)), "the second class's images should come second"
show_images(grid, nrow=4, row_labels=["Bag", "Trouser", "Ankle boot"]);
''')

md(r"""
## References

- Goodfellow et al. 2014, *Generative Adversarial Nets*, arXiv:1406.2661 (Algorithm 1: alternating D and G steps).
- Radford, Metz and Chintala 2015, *Unsupervised Representation Learning with Deep Convolutional GANs* (DCGAN),
  arXiv:1511.06434 (architecture, Adam with learning rate 0.0002 and $\beta_1 = 0.5$, N(0, 0.02) initialisation).
- Salimans et al. 2016, *Improved Techniques for Training GANs*, arXiv:1606.03498.
- Yazıcı et al. 2019, *The Unusual Effectiveness of Averaging in GAN Training*, arXiv:1806.04498 (EMA).
- Mirza and Osindero 2014, *Conditional Generative Adversarial Nets*, arXiv:1411.1784.
- Miyato and Koyama 2018, *cGANs with Projection Discriminator*, arXiv:1802.05637.
- Xiao, Rasul and Vollgraf 2017, *Fashion-MNIST*, arXiv:1708.07747.
""")

nb.write()
