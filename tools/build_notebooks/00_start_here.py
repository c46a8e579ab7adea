"""Build notebooks/00_start_here.ipynb (run from anywhere; then render it with tools/render_notebooks.py)."""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("00_start_here")
md, code = nb.md, nb.code


md(r"""
# 00 · Start here

Welcome to *From GANs to Stable Diffusion*. This course takes you from the first generative adversarial network (2014)
to how Stable Diffusion actually works, one runnable notebook at a time. Every notebook imports the same small, tested
library, `sdgan_course`, so the code you read in a notebook is short and the code you rely on has been checked.

This first notebook has no mathematics in it. It makes sure your set-up works, shows you the data the course uses,
explains how the notebooks and the library fit together, and ends with the map of the whole course.

## Goals

- run the course where you like: **JupyterLab** on your computer (with `pip` or **conda**) or **Google Colab**;
- check your **device** (CPU, CUDA GPU or Apple GPU) and understand the three **profiles** `ci`, `cpu` and `gpu`;
- meet the data: **Fashion-MNIST** and **MNIST** images, and three **toy distributions** (a ring of 8 Gaussians, a
  spiral, a 1-D mixture) on which we can see exactly what a model learns;
- know the course's **range contract** (models see $[-1, 1]$, plots see $[0, 1]$) and where to find things in the
  library;
- see the **course map**: thirteen notebooks, from the adversarial idea to Stable Diffusion.

## Prerequisites

Python and a first contact with PyTorch tensors (shapes, `torch.randn`, indexing). Nothing else: the mathematics is
introduced from notebook 01 on.

## Time

| profile | what runs | time |
|---|---|---|
| `ci` | the whole notebook, with the test suite | under 30 s of computing |
| `cpu` | the same cells (the data is small) | about 10 minutes of reading, seconds of computing |
| `gpu` | the same cells | about 10 minutes of reading, seconds of computing |
""")

md(r"""
## 1. Running the course

You need Python 3.10–3.13 and a copy of the course (the repository holds the library, the notebooks, the data and a
few pretrained checkpoints). Pick one of three ways.

**JupyterLab with `pip`** — in a terminal, inside the cloned repository:

```bash
python -m venv .venv
. .venv/bin/activate            # Windows: .venv\Scripts\activate
pip install -e ".[lab]"         # the library (editable), PyTorch, NumPy, Matplotlib, ipywidgets, JupyterLab
jupyter lab notebooks/00_start_here.ipynb
```

`pip` installs PyTorch if you do not have it. On a machine without an NVIDIA GPU, installing the CPU build first
(`pip install torch --index-url https://download.pytorch.org/whl/cpu`) saves a few gigabytes.

**JupyterLab with conda** — the repository has an `environment.yml`:

```bash
conda env create -f environment.yml
conda activate sdgan_course
jupyter lab notebooks/00_start_here.ipynb
```

**Google Colab** — open a notebook with its "Open in Colab" link (listed in the README). Nothing to install: Colab
already has PyTorch, NumPy, Matplotlib and ipywidgets. For a GPU choose *Runtime → Change runtime type → GPU*.

**The first code cell of every notebook** is the same. Its first lines check whether the notebook runs on Colab
(`"google.colab" in sys.modules`); only there does it clone the course into `/content/sdgan_course`, once per
session, and put it on Python's import path. On your own computer those lines do nothing, because `pip install -e .`
already made `sdgan_course` importable. The rest of the cell imports what the notebook needs and sets three names
you will see everywhere:

- `PROFILE` — how big everything is (section 2);
- `DEVICE` — where tensors are computed: `cuda`, `mps` (Apple) or `cpu`;
- `GEN` — a seeded `torch.Generator`. Every random picture in the course is drawn with it, so you see exactly the
  figures stored in the notebook when you run it yourself.

Run it now (`Shift + Enter`).
""")

code(
    colab_setup_source()
    + r'''
import argparse
import ast
import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import sdgan_course
from sdgan_course import course
from sdgan_course.cli import cmd_info
from sdgan_course.config import DATA_PRESETS, ProfileError, data_config, get_profile
from sdgan_course.data import (
    gaussian_mixture_1d,
    load_images,
    ring_of_gaussians,
    spiral,
    to_model_range,
    to_uint8,
    to_unit_range,
)
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.viz import density_2d, scatter_2d, show_images

T0 = time.perf_counter()
PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
N_TOY = {"ci": 2_000, "cpu": 5_000, "gpu": 5_000}[PROFILE]  # points per toy scatter plot
print(f"sdgan_course {sdgan_course.__version__} | profile {PROFILE} | device {describe_device(DEVICE)}")
''')

md(r"""
## 2. Your machine: device and profile

The command `python -m sdgan_course info`, run in a terminal, prints everything a teacher or a bug report needs:
versions, the device, the profile and where the data files were found (each file's SHA-256 checksum is verified
before it is used). The next cell prints the same report from inside the notebook.
""")

code(r'''
cmd_info(argparse.Namespace())  # the same function as `python -m sdgan_course info`
''')

md(r"""
### Profiles: one switch for the scale of everything

Training a GAN or a diffusion model properly takes a GPU and some patience; checking that a notebook still runs
should take seconds. The environment variable `SDGAN_PROFILE` picks the scale, and it is read in exactly one place,
`sdgan_course/config.py`:

| `SDGAN_PROFILE` | meant for | what changes |
|---|---|---|
| `ci` | the test suite | tiny models, a few training steps, small slices of the data: each notebook runs in under 30 s on 2 CPU cores |
| `cpu` | a laptop | small models, minutes per notebook; shipped pretrained checkpoints show what full training reaches |
| `gpu` | a CUDA GPU (or an Apple GPU) | full datasets, full-size models, full training, mixed precision on CUDA |

- If you set nothing, the default is `gpu` when a CUDA or Apple MPS device is available, and `cpu` otherwise.
- If you ask for `gpu` on a machine that has no GPU, the course **falls back to `cpu` and warns you why** (the `gpu`
  sizes would take hours on a CPU). Set `SDGAN_FORCE_PROFILE=1` if you really want them anyway.
- A misspelt profile is an error that lists the valid names; it never silently picks one.
- The **same code** runs in every profile: only the sizes change, so what passes the tests is what you run.

To choose a profile, set the variable before starting JupyterLab (`SDGAN_PROFILE=cpu jupyter lab`, or
`set SDGAN_PROFILE=cpu` on Windows), or, inside a notebook (Colab included), run
`import os; os.environ["SDGAN_PROFILE"] = "cpu"` *before* the first code cell. `SDGAN_DEVICE=cpu` similarly forces
the device.

Let us watch the three rules at work.
""")

code(r'''
# Asking for "gpu": you get "gpu" if this machine has a GPU, otherwise "cpu" and a warning that says why.
has_accelerator = DEVICE.type in ("cuda", "mps")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    asked_gpu = get_profile("gpu")
print(f"get_profile('gpu') -> {asked_gpu!r}")
for w in caught:
    print(f"  {w.category.__name__}: {w.message}")
if has_accelerator:
    assert asked_gpu == "gpu" and not caught
else:
    forced = os.environ.get("SDGAN_FORCE_PROFILE") == "1"
    assert asked_gpu == ("gpu" if forced else "cpu")
    assert forced or any(issubclass(w.category, RuntimeWarning) for w in caught), "the fallback must warn"

# A misspelt profile fails loudly and says what would be valid.
try:
    get_profile("fast")
    raise AssertionError("an unknown profile must raise")
except ProfileError as err:
    print(f"get_profile('fast') -> ProfileError: {err}")

# What each profile means for the data (the other sizes live next to each model's config).
for name, preset in DATA_PRESETS.items():
    print(f"{name:>4}: {preset}")
''')

md(r"""
## 3. A first look at the data

### Fashion-MNIST and MNIST

The course trains image models on **Fashion-MNIST** (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747): 70,000
greyscale 28 × 28 pictures of clothes in 10 classes, 60,000 for training and 10,000 for testing. It has the same
format as **MNIST**, the handwritten digits (LeCun et al. 1998), but is harder to generate well: textures, logos and
silhouettes rather than strokes, which makes good and bad generators easier to tell apart. Both ship with the course
in `data/` (MNIST as a 10,000-image subset), so nothing is downloaded.

`load_images(name, split)` returns an `ImageData` with three fields: `images`, a float tensor of shape
`(N, 1, 28, 28)` — N images, **1 channel** (greyscale), 28 rows, 28 columns, PyTorch's channels-first layout —
already in the model range $[-1, 1]$; `labels`, `(N,)` integers 0–9; and `class_names`. The asserts below are the
contract every later notebook relies on: if one ever fails, the data on your machine is not what the course expects.
""")

code(r'''
t = time.perf_counter()
fashion = load_images("fashion_mnist", "train")
fashion_test = load_images("fashion_mnist", "test")
print(f"loaded Fashion-MNIST in {time.perf_counter() - t:.1f} s")

for split, data, size in (("train", fashion, 60_000), ("test", fashion_test, 10_000)):
    x, y = data.images, data.labels
    assert x.shape == (size, 1, 28, 28), x.shape  # (N, C, H, W)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() >= -1.0 and x.max() <= 1.0  # the model range
    assert x.min() == -1.0 and x.max() == 1.0  # ... and it is used in full: black is -1, white is +1
    assert len(data.class_names) == 10 and set(y.tolist()) == set(range(10))
    counts = torch.bincount(y, minlength=10)
    assert (counts == size // 10).all(), counts  # perfectly balanced: 6,000 or 1,000 per class
    print(f"{split:>5}: images {tuple(x.shape)} in [{x.min():.0f}, {x.max():.0f}], "
          f"{len(data.class_names)} classes x {counts[0].item()} images")
print("classes:", ", ".join(f"{i} {name}" for i, name in enumerate(fashion.class_names)))
''')

md(r"""
A picture says more than the shapes. `show_images` tiles a batch into one grid (one `imshow`, so it is fast even for
hundreds of images); here each row is one class, with the first eight training images of that class.
""")

code(r'''
def show_by_class(data, *, per_class=8, title=None):
    """One row per class: the first `per_class` images of each class, labelled with the class name."""
    rows = [data.images[data.labels == c][:per_class] for c in range(len(data.class_names))]
    batch = torch.cat(rows)  # (classes * per_class, 1, 28, 28)
    assert batch.shape == (len(rows) * per_class, 1, 28, 28)
    fig, ax = plt.subplots(figsize=(per_class * 0.75 + 1.6, len(rows) * 0.75))
    show_images(batch, nrow=per_class, ax=ax, title=title)
    for c, name in enumerate(data.class_names):  # each tile is 28 pixels plus 2 of padding
        ax.text(-3, 2 + 30 * c + 14, name, ha="right", va="center", fontsize=9)
    plt.show()


show_by_class(fashion, title="Fashion-MNIST, training split")
''')

code(r'''
digits = load_images("mnist", "train")
assert digits.images.shape[1:] == (1, 28, 28) and len(digits.class_names) == 10
assert digits.images.min() >= -1.0 and digits.images.max() <= 1.0
print(f"MNIST subset: {len(digits.images)} training images, {len(load_images('mnist', 'test').images)} test images")
show_by_class(digits, title="MNIST, training split")
''')

md(r"""
**Slices for speed.** In the `ci` profile the notebooks train on a fixed slice of the data rather than on all
60,000 images: `data_config()` says how many, and `load_images(..., limit=...)` takes that many images, always the
same ones (the selection is seeded). In `cpu` and `gpu` the limit is `None`: the whole split.
""")

code(r'''
cfg = data_config()
train = load_images("fashion_mnist", "train", limit=cfg.train_limit)
expected = 60_000 if cfg.train_limit is None else cfg.train_limit
assert len(train.images) == expected, (len(train.images), expected)
again = load_images("fashion_mnist", "train", limit=cfg.train_limit)
assert torch.equal(train.labels, again.labels)  # the same slice every time
print(f"profile {PROFILE}: {cfg} -> {len(train.images)} training images, "
      f"per class {torch.bincount(train.labels, minlength=10).tolist()}")
''')

md(r"""
### Toy distributions: where we can see everything

Images live in 784 dimensions, so we can never look at their distribution directly. The course therefore often
starts on 1-D and 2-D data whose density we know exactly, and only then moves to images:

- the **ring of 8 Gaussians** — eight narrow bumps (standard deviation 0.05) evenly spaced on a circle of radius 2.
  It is the classic test for **mode collapse**: a generator that covers only some of the eight bumps is easy to spot
  (notebook 02);
- the **spiral** — points along a curve, with no simple formula for its density: a shape a model must really learn;
- a **1-D mixture** of two Gaussians, for plotting a density and a model's density on one axis.
""")

code(r'''
ring = ring_of_gaussians()
ring_points, component = ring.sample(N_TOY, generator=GEN, return_component=True)  # (N, 2), (N,)
spiral_points = spiral(N_TOY, generator=GEN)  # (N, 2)
assert ring_points.shape == (N_TOY, 2) and spiral_points.shape == (N_TOY, 2)

radius = ring_points.norm(dim=1)
assert (radius - 2.0).abs().mean() < 0.1, "ring points lie on the circle of radius 2"
share = torch.bincount(component, minlength=8).float() / N_TOY
assert len(ring.means) == 8 and (share - 1 / 8).abs().max() < 5 * (1 / 8 * 7 / 8 / N_TOY) ** 0.5  # 8 equal modes

fig, axes = plt.subplots(1, 3, figsize=(11, 3.7))
density_2d(ring.log_prob, ax=axes[0], title="ring of 8 Gaussians: density")
scatter_2d(ring_points, ax=axes[1], title=f"ring: {N_TOY} samples", c=component.numpy(), cmap="tab10")
scatter_2d(spiral_points, ax=axes[2], title=f"spiral: {N_TOY} samples")
plt.tight_layout()
plt.show()
print(f"ring: mean radius {radius.mean():.3f}, share of each mode {[round(v, 3) for v in share.tolist()]}")
''')

code(r'''
mixture = gaussian_mixture_1d()  # 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)
xs = torch.linspace(-5, 5, 1001, dtype=torch.float64)
density = mixture.prob(xs)  # (1001,)
samples = mixture.sample(N_TOY, generator=GEN)  # (N, 1)
area = torch.trapezoid(density, xs).item()
assert abs(area - 1.0) < 1e-6, area  # a density integrates to 1
assert samples.shape == (N_TOY, 1) and abs(samples.mean().item()) < 0.15  # symmetric around 0

fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(samples.squeeze(1).numpy(), bins=60, range=(-5, 5), density=True, alpha=0.5, label=f"{N_TOY} samples")
ax.plot(xs.numpy(), density.numpy(), lw=2, label="p(x), exact")
ax.set_xlabel("x")
ax.legend()
ax.set_title("1-D mixture of two Gaussians")
plt.show()
print(f"integral of p(x) over [-5, 5]: {area:.6f}")
''')

md(r"""
## 4. How the notebooks and the library fit together

**The library is the tested code; the notebooks teach.** Models, losses, samplers, metrics and training loops live
in `sdgan_course/`, each with unit tests that check shapes, closed-form mathematics and what happens on bad input. A
notebook shows a formula, sometimes writes a piece of it inline so you can see it work, then *checks that it equals
the library's version* — and from then on uses the library. So when you move on, the code you depend on is the code
that was tested, not a copy that drifted.

A few conventions run through all of it:

- **The range contract.** Models see pixels in $[-1, 1]$ (generators end in `tanh`, whose outputs lie in exactly
  that interval); plots see $[0, 1]$; files store `uint8` in $[0, 255]$. The conversions live in one place,
  `sdgan_course/data.py`: `to_model_range`, `to_unit_range` and `to_uint8`. The plotting functions convert for you.
- **Shapes** are written in comments: `# (B, C, H, W)` means batch, channels, height, width.
- **Seeds**: every sampler takes `generator=`, so a figure can be reproduced exactly.
- **Errors say what happened and how to fix it** — a wrong dataset name, a missing file, a bad shape.

The range contract, checked:
""")

code(r'''
x = fashion.images[:16]  # (16, 1, 28, 28) in [-1, 1]
unit = to_unit_range(x)  # (16, 1, 28, 28) in [0, 1], for plots
stored = to_uint8(x)  # numpy uint8 in [0, 255], for files
assert unit.min() >= 0 and unit.max() <= 1 and stored.dtype == np.uint8
assert torch.allclose(unit, (x + 1) / 2)  # the whole formula
assert torch.equal(to_model_range(stored), x)  # uint8 -> model range -> uint8 is lossless for the data

fig, axes = plt.subplots(1, 2, figsize=(7, 3))
for ax, img, label in ((axes[0], x[0, 0], "model range [-1, 1]"), (axes[1], unit[0, 0], "plot range [0, 1]")):
    im = ax.imshow(img, cmap="gray")
    ax.set_title(label)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.046)
plt.show()
''')

md(r"""
**Where to find things.** One module per idea; the next cell lists the modules of your copy of the library with the
first line of each one's description (read straight from the files, so the list is always current). In Jupyter,
`load_images?` shows a function's documentation and `load_images??` its source.
""")

code(r'''
package = Path(sdgan_course.__file__).parent
modules = sorted(p for p in package.glob("*.py") if not p.name.startswith("_"))
for path in modules:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    print(f"{path.stem + '.py':<16} {doc.splitlines()[0] if doc else ''}")
assert {"config", "device", "data", "viz"} <= {p.stem for p in modules}
''')

md(r"""
## 5. The course map

| # | notebook | what you leave with |
|---|---|---|
| 00 | start here | set-up (local, conda, Colab), device check, the data, how the course and its profiles work |
| 01 | the landscape | GAN vs VAE vs diffusion vs latent diffusion; what Stable Diffusion really is; the common misconceptions, corrected |
| 02 | GAN mathematics | value function, optimal discriminator, Jensen–Shannon, saturating vs non-saturating loss, toy 1-D/2-D GANs, mode collapse seen |
| 03 | generator and discriminator | MLP and DCGAN models, shapes, initialisation, parameter counts, conditional variants |
| 04 | losses and stability | BCE, non-saturating, LSGAN, hinge, WGAN, WGAN-GP, R1, spectral norm: the regularisation that makes training stable, measured |
| 05 | training a GAN | the full loop on Fashion-MNIST, CPU or GPU, mixed precision, EMA, checkpoints, live plots, class-conditional generation |
| 06 | evaluating generators | FID/KID on course features, precision/recall, SSIM, memorisation, human and adversarial (two-sample) tests, metric pitfalls |
| 07 | generate, score, select | best-of-N with the discriminator, discriminator rejection sampling, latent interpolation and exploration widgets |
| 08 | variational autoencoders | ELBO, reparameterisation, KL, latent space; the autoencoder that latent diffusion needs |
| 09 | diffusion from scratch (DDPM) | forward process, schedules, noise-prediction loss, U-Net with time embedding, ancestral sampling |
| 10 | faster and steerable sampling | DDIM, step count vs quality, classifier-free guidance |
| 11 | Stable Diffusion in miniature | latent diffusion with a text encoder and cross-attention, prompts, guidance, image-to-image; each part mapped to the real Stable Diffusion |
| 12 | GANs vs diffusion | same data, quality vs compute, sampling speed, diversity; where DALL-E, CLIP and NeRF fit |

It is one story. Notebooks 02–07 are the **adversarial idea**: the mathematics, the networks, how to train them
stably, how to judge what they produce and how to pick good samples. Notebooks 08–11 build **diffusion in a learned
latent space** step by step — which is what Stable Diffusion is, and whose autoencoder is itself trained with an
adversarial loss. Notebook 12 puts the two families side by side. Each notebook stands alone: where it needs a
trained model it loads a shipped checkpoint, so you can start anywhere.

The notebooks available in your copy, with their "Open in Colab" addresses:
""")

code(r'''
for nb in course.NOTEBOOKS:
    print(f"{nb.stem:<36} {nb.title:<32} cpu {nb.minutes_cpu:>2} min, gpu {nb.minutes_gpu:>2} min")
    print(f"{'':<36} {course.colab_url(nb.stem)}")
assert course.NOTEBOOKS[0].stem == "00_start_here"
''')

md(r"""
## Summary

- The course runs in JupyterLab (`pip install -e ".[lab]"` or `conda env create -f environment.yml`) or on Colab,
  where the first cell fetches the course by itself.
- `python -m sdgan_course info` (or the cell in section 2) reports versions, device, profile and data.
- `SDGAN_PROFILE` = `ci` / `cpu` / `gpu` sets the scale of everything; `gpu` without a GPU falls back to `cpu` with a
  warning; the same code runs in every profile.
- The data: Fashion-MNIST (60,000 + 10,000 images) and MNIST, as `(N, 1, 28, 28)` tensors in $[-1, 1]$ with 10
  classes; plus a ring of 8 Gaussians, a spiral and a 1-D mixture.
- Models see $[-1, 1]$, plots see $[0, 1]$; the library holds the tested code, the notebooks teach and check.

## Exercises

Each exercise cell holds a reference answer, so the notebook runs from top to bottom; replace the answer with your
own and run the cell — the `assert` tells you whether you are right.

1. How many images of the class *Bag* are in the Fashion-MNIST **test** split?
2. Write the conversion from the model range to the plot range yourself and compare it with `to_unit_range`.
3. What is the average image of the class *Trouser*? Compute it, check its shape and range, and look at it.
""")

code(r'''
# 1. Count the Bags in the test split.
answer_1 = int((fashion_test.labels == fashion_test.class_names.index("Bag")).sum())
assert answer_1 == 1000, f"{answer_1} is not right: look up the label of 'Bag' in class_names"


# 2. [-1, 1] -> [0, 1], clamped like the library's version.
def my_to_unit_range(x):
    return ((x + 1) / 2).clamp(0, 1)


probe = torch.randn(64, 1, 28, 28, generator=GEN)  # includes values outside [-1, 1]: the clamp matters
assert torch.allclose(my_to_unit_range(probe), to_unit_range(probe))

# 3. The mean Trouser, shape (1, 28, 28), still in [-1, 1].
mean_trouser = fashion.images[fashion.labels == fashion.class_names.index("Trouser")].mean(dim=0)
assert mean_trouser.shape == (1, 28, 28) and mean_trouser.min() >= -1 and mean_trouser.max() <= 1
show_images(mean_trouser[None], title="the mean Trouser")
plt.show()
print(f"all exercises check out; notebook ran in {time.perf_counter() - T0:.1f} s")
''')

md(r"""
## References

- Xiao, Rasul, Vollgraf 2017. *Fashion-MNIST: a novel image dataset for benchmarking machine learning algorithms*.
  arXiv:1708.07747.
- LeCun, Bottou, Bengio, Haffner 1998. *Gradient-based learning applied to document recognition*. Proceedings of the
  IEEE 86(11) (MNIST).
- Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville, Bengio 2014. *Generative adversarial nets*.
  arXiv:1406.2661 (where the course begins).
- Rombach, Blattmann, Lorenz, Esser, Ommer 2022. *High-resolution image synthesis with latent diffusion models*.
  arXiv:2112.10752 (where it ends: Stable Diffusion).
- Srivastava, Valkov, Russell, Gutmann, Sutton 2017. *VEEGAN: reducing mode collapse in GANs using implicit
  variational learning*. arXiv:1705.07761 (the ring of Gaussians as a mode-collapse benchmark).
- PyTorch installation guide: https://pytorch.org/get-started/locally/ ; JupyterLab: https://jupyterlab.readthedocs.io
""")

nb.write()
