"""Build notebooks/03_generator_and_discriminator.ipynb (run, then render with tools/render_notebooks.py).

python tools/build_notebooks/03_generator_and_discriminator.py
python tools/render_notebooks.py notebooks/03_generator_and_discriminator.ipynb
"""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("03_generator_and_discriminator")
md, code = nb.md, nb.code


# ============================================================================ opening

md(r"""
# 03 · Generator and discriminator

The two networks of a GAN, built, measured and looked at — before any training (that is notebook 05).

## Goals

You will

- build the classic fully connected (MLP) generator, noise 100 → 128 → 256 → 512 → 1024 → 784 → image (1, 28, 28),
  and see why it ends in `tanh` and why 784 numbers become a **(1, 28, 28)** image, not (32, 32, 1);
- see why the discriminator returns a **logit** (no sigmoid inside, never a ReLU at the end);
- build the DCGAN pair (transposed convolutions, batch norm, ReLU / LeakyReLU, N(0, 0.02) initialisation) for 28 × 28
  images, and for 32 × 32 and 64 × 64 by changing one argument;
- walk through the shapes layer by layer with forward hooks, count the parameters, and compute the discriminator's
  **receptive field**;
- compare a scalar discriminator with a **patch** discriminator that returns a map of scores, and watch one find the
  damaged part of an image;
- make both networks **class-conditional**: a label embedding in the generator, a projection in the discriminator.

## Prerequisites

Notebook 02 (what G and D are for), PyTorch `nn.Module` and `nn.Conv2d` basics.

## Time

| profile | computing | reading and exercises |
|---|---|---|
| `ci` | under 30 s | — |
| `cpu` | about 1 minute | about 30 minutes |
| `gpu` | under a minute | about 30 minutes |

Everything here comes from `sdgan_course.gan` (the models) and `sdgan_course.losses` (used once, for the patch
discriminator demo); the notebook writes a few formulas inline to teach them and checks each against the library.
""")

code(
    colab_setup_source()
    + r'''
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from sdgan_course import gan, losses
from sdgan_course.config import get_profile
from sdgan_course.data import load_images, to_unit_range
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.viz import show_images

PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
SIZES = {  # only sizes change between profiles, never the code path
    "ci": dict(n_data=512, n_show=16, patch_steps=60, patch_batch=32, patch_width=16),
    "cpu": dict(n_data=4096, n_show=36, patch_steps=400, patch_batch=64, patch_width=32),
    "gpu": dict(n_data=4096, n_show=64, patch_steps=400, patch_batch=64, patch_width=32),
}[PROFILE]
print(f"profile: {PROFILE}   device: {describe_device(DEVICE)}   sizes: {SIZES}")


def print_table(rows, headers):
    """Print rows (tuples) under headers as an aligned text table."""
    text = [[str(v) for v in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    for j, row in enumerate(text):
        print("  ".join(v.rjust(w) if v[:1].isdigit() or v[:1] == "(" else v.ljust(w) for v, w in zip(row, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def shape_walk(model, *inputs):
    """The layer-by-layer output shapes of one forward pass (forward hooks, see gan.layer_shapes), as a table."""
    rows = gan.layer_shapes(model, *inputs)
    table = [(r.name, r.kind, tuple(r.shape), f"{r.params:,}") for r in rows]
    print_table(table, ("layer", "type", "output shape", "parameters"))
    return rows
'''
)

# ============================================================================ 1. range

md(r"""
## 1. Images live in [-1, 1], so the generator ends in `tanh`

The course's data contract: **models see [-1, 1]**, plots see [0, 1] (`sdgan_course.data` converts, in one place).
A generator must be able to produce every value the data takes, so its last activation must cover [-1, 1]:

| last activation | range | at 0 | fits data in |
|---|---|---|---|
| `tanh(a)` | (-1, 1) | 0, slope 1 | [-1, 1] ✔ |
| `sigmoid(a)` | (0, 1) | 0.5, slope 1/4 | [0, 1] |

A sigmoid generator facing [-1, 1] data can never draw a dark pixel (anything below 0): the discriminator wins by
checking one pixel. `tanh` is also centred on 0 and has 4 times sigmoid's slope there, which helps early gradients.
(Both are the same curve, rescaled: tanh(a) = 2 sigmoid(2a) - 1. What matters is that the range matches the data.)
""")

code(r"""
data = load_images("fashion_mnist", "train", limit=SIZES["n_data"])
real = data.images  # (N, 1, 28, 28) in [-1, 1]
assert real.shape[1:] == (1, 28, 28) and real.min() >= -1.0 and real.max() <= 1.0
below_zero = (real < 0).float().mean().item()
print(f"{len(real)} Fashion-MNIST images, pixel range [{real.min():.2f}, {real.max():.2f}]")
print(f"{below_zero:.0%} of the pixels are below 0: a sigmoid generator could never produce them")
a = torch.linspace(-4, 4, 200)
assert torch.allclose(torch.tanh(a), 2 * torch.sigmoid(2 * a) - 1, atol=1e-6)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
axes[0].axhspan(-1, 1, color="tab:green", alpha=0.1, label="data range [-1, 1]")
axes[0].plot(a, torch.tanh(a), label="tanh")
axes[0].plot(a, torch.sigmoid(a), label="sigmoid")
axes[0].set_title("last activation of G"), axes[0].legend(fontsize=8), axes[0].grid(alpha=0.3)
axes[1].hist(real.flatten().numpy(), bins=50, color="gray")
axes[1].set_title("pixel values of real images"), axes[1].set_xlabel("value (model range)")
show_images(real[: SIZES["n_show"]], ax=axes[2], title="real images (shown in [0, 1])")
plt.tight_layout()
plt.show()
""")

# ============================================================================ 2. MLP generator

md(r"""
## 2. The MLP generator: 100 → 128 → 256 → 512 → 1024 → 784 → (1, 28, 28)

The classic first GAN generator is a stack of fully connected layers. Each hidden layer is `Linear` + `LeakyReLU(0.2)`;
the last is `Linear(1024, 784)` + `tanh`; then the 784 numbers are **reshaped** into an image.

**784 = 28 × 28.** A Fashion-MNIST image has one channel and 28 × 28 pixels, and PyTorch stores images
*channels-first*: `(C, H, W)` = **(1, 28, 28)**, a batch is `(B, 1, 28, 28)`. Two errors travel together on the web:

- reshaping to **(32, 32, 1)**: 32 × 32 = 1024 ≠ 784 — the reshape fails (or, with a 1024-unit last layer, makes
  images of the wrong size that no 28 × 28 data matches);
- **(28, 28, 1)** is the *channels-last* layout of Keras/TensorFlow; a PyTorch convolution would read it as 28
  channels of 28 × 1 pixels.

The library's `MLPGenerator` does the reshape with an `nn.Unflatten(1, (1, 28, 28))` layer, so it shows up in the
shape walk. The walk below registers a **forward hook** on every layer and records what each one outputs.
""")

code(r"""
mlp_g = gan.MLPGenerator().to(DEVICE)  # the classic sizes in every profile (1.5 M parameters, still tiny)
z = gan.sample_noise(2, 100, device=DEVICE, generator=GEN)  # (B, Z) = (2, 100), z ~ N(0, I)
rows = shape_walk(mlp_g, z)
assert rows[-1].shape == (2, 1, 28, 28) and 28 * 28 == 784
""")

code(r"""
flat = torch.zeros(784)
try:
    flat.view(32, 32, 1)
except RuntimeError as err:
    print("view(32, 32, 1) fails:", err)
print(f"784 = 28 x 28 = {28 * 28};  32 x 32 = {32 * 32}")
image = flat.view(1, 28, 28)  # PyTorch: (C, H, W)
keras_layout = flat.view(28, 28, 1)  # Keras/TensorFlow: (H, W, C): same numbers, different meaning
assert torch.equal(keras_layout.permute(2, 0, 1), image)
print("PyTorch image:", tuple(image.shape), "  channels-last image:", tuple(keras_layout.shape))
""")

md(r"""
**Parameter count by hand.** A `Linear(n_in, n_out)` layer has a weight matrix n_out × n_in and n_out biases:
n_in · n_out + n_out parameters. Activations and the reshape have none.
""")

code(r"""
widths = [100, 128, 256, 512, 1024, 784]
by_hand = [(f"Linear({i}, {o})", f"{i} * {o} + {o}", i * o + o) for i, o in zip(widths, widths[1:])]
table = [(name, formula, f"{n:,}") for name, formula, n in by_hand]
print_table(table, ("layer", "n_in * n_out + n_out", "parameters"))
total = sum(n for *_, n in by_hand)
print(f"total by hand: {total:,}   library count_parameters: {gan.count_parameters(mlp_g):,}")
assert total == gan.count_parameters(mlp_g) == 1_506_448
print(f"the last layer alone holds {by_hand[-1][2] / total:.0%} of the generator")
""")

md(r"""
**What does an untrained generator draw?** Noise in, structureless images out — that is the starting point of every
GAN run. With small weights (PyTorch's default, or the DCGAN N(0, 0.02) initialisation used by `gan.build_gan`), each
layer shrinks the signal, so the pixels sit close to `tanh(0) = 0`: mid-grey. Training (notebook 05) has to pull them
out to the ±1 that real images use.
""")

code(r"""
torch.manual_seed(0)
g_default = gan.MLPGenerator().to(DEVICE)  # PyTorch's default initialisation
g_dcgan = gan.init_dcgan_weights(gan.MLPGenerator()).to(DEVICE)  # N(0, 0.02) weights, zero biases
z = gan.sample_noise(SIZES["n_show"], 100, device=DEVICE, generator=GEN)  # (B, Z)
with torch.no_grad():
    x_default, x_dcgan = g_default(z).cpu(), g_dcgan(z).cpu()  # (B, 1, 28, 28)
assert x_default.abs().max() < 1 and x_dcgan.abs().max() < 1  # tanh keeps them inside (-1, 1)

fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
show_images(x_default, ax=axes[0], title="untrained G, default init")
show_images(x_default / x_default.abs().max(), ax=axes[1], title="same, contrast stretched")
show_images(x_dcgan, ax=axes[2], title="untrained G, N(0, 0.02) init")
axes[3].hist(real.flatten().numpy(), bins=50, density=True, alpha=0.5, color="gray", label="real")
axes[3].hist(x_default.flatten().numpy(), bins=50, density=True, alpha=0.6, label="G, default init")
axes[3].set_yscale("log"), axes[3].legend(fontsize=8), axes[3].set_title("pixel values")
plt.tight_layout()
plt.show()
print(f"pixel std: real {real.std():.3f}, untrained G default init {x_default.std():.4f}, "
      f"N(0, 0.02) init {x_dcgan.std():.5f}")
""")

# ============================================================================ 3. MLP discriminator

md(r"""
## 3. The MLP discriminator returns a logit

The discriminator maps an image to **one real number per image**, the logit ℓ = D(x). The probability that x is real
is σ(ℓ) = 1 / (1 + e^(-ℓ)). In this course the model stops at ℓ and **the losses take logits**:

- `log σ(ℓ) = -softplus(-ℓ)` and `log(1 - σ(ℓ)) = -softplus(ℓ)` are computed without ever forming σ(ℓ), so there is
  no `log(0) = -inf` when D is very sure;
- the Wasserstein and hinge losses (notebook 04) need the raw score anyway.

A discriminator that ends in a **ReLU** is a bug: its output is never negative, so read as a logit it never says
"fake" (σ(ℓ) ≥ 0.5), and read as a probability it can exceed 1. If you want a probability, end in a sigmoid — or,
better, feed the logit to a logit-based loss.
""")

code(r"""
mlp_d = gan.init_dcgan_weights(gan.MLPDiscriminator()).to(DEVICE)  # 784 -> 512 -> 256 -> 1
rows = shape_walk(mlp_d, real[:2].to(DEVICE))
with torch.no_grad():
    logits_real = mlp_d(real[:8].to(DEVICE))  # (B,) logits
    logits_fake = mlp_d(x_dcgan[:8].to(DEVICE))
assert logits_real.shape == (8,)
print("logits on real images:", [round(v, 3) for v in logits_real.tolist()])
print("P(real) = sigmoid(logit):", [round(v, 3) for v in torch.sigmoid(logits_real).tolist()])
print("untrained D: every logit is close to 0, i.e. P(real) close to 1/2 for real and fake alike")

very_sure = torch.tensor(-100.0)  # D is certain a fake is fake
naive = torch.log(torch.sigmoid(very_sure))  # sigmoid underflows to 0 in float32, log(0) = -inf
stable = -F.softplus(-very_sure)  # the same quantity, log sigmoid(l), computed stably
print(f"log(sigmoid(-100)) naively: {naive.item()}   with softplus: {stable.item()}")
assert torch.isinf(naive) and stable.item() == -100.0
# the non-saturating generator loss -log D(G(z)) of the library is exactly this, computed from the logit:
assert losses.generator_loss("ns", very_sure.view(1)).item() == -stable.item()
""")

# ============================================================================ 4. DCGAN

md(r"""
## 4. DCGAN: convolutions up and down

Radford, Metz and Chintala (2015, arXiv:1511.06434) found a convolutional recipe that trains stably:

- **G** projects z with one linear layer to a small stack of feature maps, then doubles the size with **transposed
  convolutions** (kernel 4, stride 2, padding 1), each followed by **batch norm** and **ReLU**; the last layer outputs
  the image channels through **tanh** (no batch norm there);
- **D** halves the size with **strided convolutions** (no pooling), **LeakyReLU(0.2)**, batch norm everywhere except
  on the first layer; the last layer reads the features out as one logit;
- weights start from **N(0, 0.02)** (batch-norm scales from N(1, 0.02)), trained with Adam, lr 2·10⁻⁴, β₁ = 0.5.

**Transposed convolution arithmetic.** A transposed convolution with kernel k, stride s and padding p maps a size i to

  o = (i - 1) s - 2p + k   (Dumoulin and Visin 2016, arXiv:1603.07285),

so k = 4, s = 2, p = 1 gives o = 2i: 7 → 14 → 28 for Fashion-MNIST, 4 → 8 → 16 → 32 → 64 for larger images.
Its mirror, the strided convolution, gives o = ⌊(i + 2p - k) / s⌋ + 1: 28 → 14 → 7.
""")

code(r"""
def convt_size(i, k, s, p):
    return (i - 1) * s - 2 * p + k  # the formula above, written inline


for i in (7, 14, 4, 8, 16, 32):
    o = convt_size(i, 4, 2, 1)
    by_torch = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)(torch.zeros(1, 1, i, i)).shape[-1]
    assert o == by_torch == gan.conv_transpose_output_size(i, kernel=4, stride=2, padding=1) == 2 * i
    assert gan.conv_output_size(o, kernel=4, stride=2, padding=1) == i  # the strided conv undoes it
print("k=4, s=2, p=1: the transposed conv doubles, the strided conv halves:", [(i, 2 * i) for i in (7, 14, 4, 8, 16)])
""")

md(r"""
**Why kernel 4 with stride 2?** A transposed convolution "stamps" a k × k kernel on the output for every input pixel,
moving by s pixels between stamps. If k is a multiple of s, every output pixel is covered by the same number of
stamps; otherwise some pixels get more than others, and the generator starts with a built-in **checkerboard**
pattern it has to learn to cancel (Odena, Dumoulin and Olah 2016, *Deconvolution and checkerboard artifacts*).
Below: a constant input, an all-ones kernel, and the number of stamps that land on each output pixel.
""")

code(r"""
def stamp_counts(kernel, stride, padding, size=6):
    convt = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, bias=False)
    nn.init.ones_(convt.weight)
    with torch.no_grad():
        return convt(torch.ones(1, 1, size, size))[0, 0]  # (H, W) stamps per output pixel


one_pixel = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False)
nn.init.ones_(one_pixel.weight)
single = torch.zeros(1, 1, 6, 6)
single[0, 0, 2, 2] = 1.0
with torch.no_grad():
    stamp = one_pixel(single)[0, 0]  # one input pixel -> one 4 x 4 stamp

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
panels = [(stamp, "one input pixel, k=4 s=2"), (stamp_counts(4, 2, 1), "constant input, k=4 s=2: even"),
          (stamp_counts(3, 2, 1), "constant input, k=3 s=2: checkerboard")]
for ax, (img, title) in zip(axes, panels):
    im = ax.imshow(img, cmap="viridis")
    ax.set_title(title, fontsize=9), ax.set_xticks([]), ax.set_yticks([])
    plt.colorbar(im, ax=ax, fraction=0.046)
plt.tight_layout()
plt.show()
inner_even, inner_odd = stamp_counts(4, 2, 1)[1:-1, 1:-1], stamp_counts(3, 2, 1)[1:-1, 1:-1]
assert inner_even.unique().numel() == 1 and inner_odd.unique().numel() > 1
""")

md(r"""
**The DCGAN pair for 28 × 28**, at this profile's widths (`GANConfig.preset(PROFILE)`: `base_channels` b is 8 in
`ci`, 48 in `cpu`, 64 in `gpu`). The generator goes (2b, 7, 7) → (b, 14, 14) → (1, 28, 28); the discriminator
(1, 28, 28) → (b, 14, 14) → (2b, 7, 7) → one logit.
""")

code(r"""
config = gan.GANConfig.preset(PROFILE)
print(config)
g, d = gan.build_gan(config)  # DCGAN initialisation applied
g, d = g.to(DEVICE), d.to(DEVICE)
z = gan.sample_noise(2, config.z_dim, device=DEVICE, generator=GEN)
print("\nGenerator")
g_rows = shape_walk(g, z)
print("\nDiscriminator")
d_rows = shape_walk(d, g(z).detach())
b = config.base_channels
assert [r.shape for r in g_rows if r.kind == "ConvTranspose2d"] == [(2, b, 14, 14), (2, 1, 28, 28)]
assert d_rows[-1].shape == (2, 1) and d(g(z)).shape == (2,)
""")

md(r"""
**Other image sizes.** `image_size` picks the number of up- and down-sampling stages: 28 (7 → 14 → 28),
32 (4 → 8 → 16 → 32) and 64 (4 → 8 → 16 → 32 → 64). Any other size is refused with a message that lists these.
""")

code(r"""
size_rows = []
for size in (28, 32, 64):
    g_s, d_s = gan.build_gan(config.replace(image_size=size))
    z_s = gan.sample_noise(2, config.z_dim, generator=GEN)
    walk = gan.layer_shapes(g_s, z_s)
    maps = [r.shape[-1] for r in walk if r.kind in ("Unflatten", "ConvTranspose2d")]
    with torch.no_grad():
        x_s = g_s(z_s)
        logit_s = d_s(x_s)
    assert x_s.shape == (2, 1, size, size) and logit_s.shape == (2,)
    size_rows.append((size, " -> ".join(map(str, maps)), tuple(x_s.shape), f"{gan.count_parameters(g_s):,}",
                      f"{gan.count_parameters(d_s):,}"))
print_table(size_rows, ("image size", "G feature maps", "G output", "G parameters", "D parameters"))
try:
    gan.DCGANGenerator(image_size=48)
except ValueError as err:
    print("\nimage_size=48 ->", err)
""")

md(r"""
**Initialisation.** `gan.init_dcgan_weights` draws convolution and linear weights from N(0, 0.02) and batch-norm
scales from N(1, 0.02), biases zero. PyTorch's default (uniform, with a bound of 1/√fan-in) scales with the layer's
fan-in instead: for a wide layer the two happen to be close, for the first layer of the discriminator (fan-in
1 · 4 · 4 = 16) the default is 7 times wider. The histograms show that layer before and after.
""")

code(r"""
torch.manual_seed(0)
layer = nn.Conv2d(1, 64, 4, stride=2, padding=1)  # the first layer of the DCGAN discriminator
before = layer.weight.detach().flatten().clone()
gan.init_dcgan_weights(layer)
after = layer.weight.detach().flatten()
print(f"std before: {before.std():.4f} (PyTorch default)   after: {after.std():.4f}   "
      f"bias zero: {bool((layer.bias == 0).all())}")
assert abs(after.std().item() - 0.02) < 1e-3 and abs(after.mean().item()) < 1e-3

fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].hist(before.numpy(), bins=60, alpha=0.6, density=True, label="PyTorch default")
axes[0].hist(after.numpy(), bins=60, alpha=0.6, density=True, label="N(0, 0.02)")
axes[0].set_title("weights of Conv2d(1, 64, 4)"), axes[0].legend(fontsize=8)
g.train()  # batch norm uses the batch's own statistics, as during training
with torch.no_grad():
    x_untrained = g(gan.sample_noise(SIZES["n_show"], config.z_dim, device=DEVICE, generator=GEN)).cpu()
show_images(x_untrained, ax=axes[1], title="untrained DCGAN G (train mode)")
plt.tight_layout()
plt.show()
""")

md(r"""
**Parameter counts.** A `Conv2d(c_in, c_out, k)` has c_out · c_in · k² weights (+ c_out biases, left out before batch
norm, which has its own shift); a `ConvTranspose2d` the same; batch norm 2 per channel. The MLP spends almost all of
its parameters on the last layer; the DCGAN generator on its projection of z.
""")

code(r"""
count_rows = []
for profile in ("ci", "cpu", "gpu"):
    for arch in ("mlp", "dcgan"):
        cfg = gan.GANConfig.preset(profile, arch=arch)
        g_c, d_c = gan.build_gan(cfg)
        width = cfg.g_hidden if arch == "mlp" else f"base_channels={cfg.base_channels}"
        n_g, n_d = gan.count_parameters(g_c), gan.count_parameters(d_c)
        count_rows.append((profile, arch, cfg.z_dim, width, f"{n_g:,}", f"{n_d:,}"))
print_table(count_rows, ("profile", "arch", "z_dim", "widths", "G parameters", "D parameters"))

first_convt = next(m for m in gan.DCGANGenerator().modules() if isinstance(m, nn.ConvTranspose2d))
assert gan.count_parameters(first_convt) == 128 * 64 * 4 * 4  # gpu widths: 2b = 128 -> b = 64 channels, no bias
""")

# ============================================================================ 5. receptive field

md(r"""
## 5. What does one output of the discriminator see? The receptive field

Every convolution output depends on a window of the input: its **receptive field**. Walking through the layers with
the kernel k, stride s and padding p of each, starting from one pixel (r = 1, jump j = 1, centre 0):

  r_out = r_in + (k - 1) · j_in,   j_out = j_in · s,   centre_out = centre_in + ((k - 1)/2 - p) · j_in

j is the distance, in input pixels, between two neighbouring outputs. Below the recurrence is written inline for the
**patch** version of the 28 × 28 DCGAN discriminator (its last layer is a 3 × 3 convolution instead of a linear
layer, see section 6), then checked against `gan.receptive_field` and against autograd: the gradient of one output
with respect to the input is non-zero only inside its receptive field.
""")

code(r"""
d_patch = gan.init_dcgan_weights(gan.DCGANDiscriminator(base_channels=config.base_channels, patch=True, norm="none"))
convs = [(name, m) for name, m in d_patch.named_modules() if isinstance(m, nn.Conv2d)]
r, j, centre, walk = 1, 1, 0.0, []
for name, m in convs:
    k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
    r, centre, j = r + (k - 1) * j, centre + ((k - 1) / 2 - p) * j, j * s
    walk.append((name, k, s, p, r, j, centre))
print_table(walk, ("layer", "kernel", "stride", "padding", "receptive field", "jump", "first centre"))
library = gan.receptive_field(d_patch)
assert (r, j) == (library.size, library.jump) == (18, 4)
assert [row.size for row in library.layers] == [w[4] for w in walk]
print(f"\neach logit of the patch discriminator sees {r} x {r} input pixels; neighbouring logits are {j} pixels apart")
""")

code(r"""
x = real[:1].clone().requires_grad_(True)  # (1, 1, 28, 28)
out = d_patch(x)  # (1, 1, 7, 7): one logit per patch
row_, col_ = 3, 2
out[0, 0, row_, col_].backward()
influence = x.grad[0, 0].abs()  # (28, 28): which pixels this one logit depends on
top, left = centre + row_ * j - (r - 1) / 2, centre + col_ * j - (r - 1) / 2  # window of output (row_, col_)
ys, xs = torch.nonzero(influence > 0, as_tuple=True)
assert top - 0.5 <= ys.min() and ys.max() <= top + r - 1 + 0.5  # every influential pixel lies in the window
assert left - 0.5 <= xs.min() and xs.max() <= left + r - 1 + 0.5

fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
axes[0].imshow(to_unit_range(real[0, 0]), cmap="gray")
axes[1].imshow(influence, cmap="magma")
for ax in axes:
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), r, r, fill=False, color="cyan", lw=2))
    ax.set_xticks([]), ax.set_yticks([])
axes[0].set_title(f"receptive field of logit ({row_}, {col_})", fontsize=9)
axes[1].set_title("|d logit / d pixel| (autograd)", fontsize=9)
plt.tight_layout()
plt.show()
""")

md(r"""
The scalar DCGAN discriminator ends in a linear layer on the flattened (2b, 7, 7) features: its one logit sees the
**whole** image. The patch discriminator stops before that: each of its 7 × 7 logits judges an 18 × 18 patch.
""")

# ============================================================================ 6. patch discriminator

md(r"""
## 6. A patch discriminator: a map of scores instead of one number

With `patch=True`, `DCGANDiscriminator` returns a `(B, 1, h, w)` map of logits — one verdict per patch, as in
PatchGAN (Isola et al. 2017, arXiv:1611.07004). The losses simply average over the map. Real uses: image-to-image
translation, and the autoencoder of Stable Diffusion, whose adversarial loss comes from a patch discriminator
(Esser et al. 2021, arXiv:2012.09841; Rombach et al. 2022, arXiv:2112.10752): it judges local texture and sharpness.

A small experiment shows what the map buys. "Fake" images are real images with one random square of noise pasted
in. We train the patch discriminator for a few seconds with the usual binary cross-entropy
(`losses.discriminator_loss("ns", ...)`, every patch of a damaged image labelled fake), then look at the map of
P(real) = σ(logit) over new damaged images: it drops where the damage is. A scalar discriminator could only say
"this image is fake", not where.
""")

code(r"""
def damage(images, generator, size=10):
    '''Paste a size x size square of uniform noise at a random place in each image; return (images, mask).'''
    b = images.shape[0]
    top = torch.randint(0, 28 - size + 1, (b, 1, 1, 1), generator=generator)
    left = torch.randint(0, 28 - size + 1, (b, 1, 1, 1), generator=generator)
    rows, cols = torch.arange(28).view(1, 1, 28, 1), torch.arange(28).view(1, 1, 1, 28)
    mask = ((rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)).float()  # (B, 1, 28, 28)
    noise = torch.rand(images.shape, generator=generator) * 2 - 1
    return images * (1 - mask) + noise * mask, mask


torch.manual_seed(0)
critic = gan.DCGANDiscriminator(base_channels=SIZES["patch_width"], patch=True, norm="none")
critic = gan.init_dcgan_weights(critic).to(DEVICE)
opt = torch.optim.Adam(critic.parameters(), lr=2e-3, betas=(0.5, 0.999))
history = []
for step in range(SIZES["patch_steps"]):
    pick = torch.randint(0, len(real), (2, SIZES["patch_batch"]), generator=GEN)
    damaged, _ = damage(real[pick[1]], GEN)
    loss = losses.discriminator_loss("ns", critic(real[pick[0]].to(DEVICE)), critic(damaged.to(DEVICE)))
    opt.zero_grad()
    loss.backward()
    opt.step()
    history.append(loss.item())
print(f"patch discriminator loss: {history[0]:.3f} -> {sum(history[-20:]) / 20:.3f} "
      f"(log 4 = {math.log(4):.3f} is a coin toss)")
""")

code(r"""
test_damaged, test_mask = damage(real[:64], GEN)
with torch.no_grad():
    p_map = torch.sigmoid(critic(test_damaged.to(DEVICE))).cpu()  # (B, 1, 7, 7) P(real) per patch
    p_real = torch.sigmoid(critic(real[:64].to(DEVICE))).cpu()
damaged_cells = F.avg_pool2d(test_mask, 4)  # (B, 1, 7, 7) fraction of each 4 x 4 cell that is damaged
inside, outside = p_map[damaged_cells > 0.5].mean().item(), p_map[damaged_cells == 0].mean().item()
print(f"mean P(real): damaged patches {inside:.2f}, undamaged patches of the same images {outside:.2f}, "
      f"real images {p_real.mean():.2f}")
assert p_map.shape == (64, 1, 7, 7)
assert inside < outside - 0.1, "the patch discriminator should score the damaged squares lower"

fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
for i in range(4):
    axes[0, i].imshow(to_unit_range(test_damaged[i, 0]), cmap="gray")
    axes[0, i].set_title("damaged image", fontsize=9)
    axes[1, i].imshow(to_unit_range(test_damaged[i, 0]), cmap="gray")
    heat = axes[1, i].imshow(p_map[i, 0], cmap="RdYlGn", vmin=0, vmax=1, alpha=0.55, extent=(-0.5, 27.5, 27.5, -0.5))
    axes[1, i].set_title("P(real) per patch", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
fig.colorbar(heat, ax=axes[1].tolist(), fraction=0.02)
plt.show()
""")

md(r"""
A few seconds of training are enough for the map to find the squares (longer in the `cpu` and `gpu` profiles,
sharper maps). The logits are laid over the image on a 7 × 7 grid of 4-pixel cells; each logit actually sees an 18 × 18
window (section 5), so the maps are smoother than the damage.
""")

# ============================================================================ 7. conditional

md(r"""
## 7. Class-conditional generator and discriminator

A conditional GAN (Mirza and Osindero 2014, arXiv:1411.1784) gives both networks the label y, so you can ask for a
class: p(x | y) instead of p(x).

- **Generator**: a learned label embedding `nn.Embedding(K, z_dim)` is **concatenated** to z, so the first layer sees
  [z, e(y)] (2 · z_dim numbers). The same z with another label gives another image.
- **MLP discriminator**: a label embedding concatenated with the flattened image (the classic recipe).
- **DCGAN discriminator**: the **projection discriminator** (Miyato and Koyama 2018, arXiv:1802.05637):

  D(x, y) = ψ(φ(x)) + ⟨e(y), φ(x)⟩

  φ(x) are the features, ψ the unconditional read-out, e(y) a label embedding. The label enters through an inner
  product with the features instead of being glued to the input. The paper derives this form from the optimal
  discriminator when p(y | x) is a softmax (log-linear) model of the features, and in its experiments it gave
  better images than concatenation.

The library's DCGAN discriminator offers both: `GANConfig(d_conditioning="projection")`, shown below, and
`d_conditioning="concat"` — one-hot label maps stacked onto the image as extra input channels (the classic recipe of
Mirza and Osindero 2014, arXiv:1411.1784). The default is `"concat"`, for a measured reason: in our CPU-budget
Fashion-MNIST runs (notebook 05, `data/checkpoints/README.md`) the projection discriminator let the generator
collapse *within* each class — nearly one image per class — while concatenation kept the variety. What wins on
ImageNet with a large ResNet does not automatically win on a small DCGAN: measure.
""")

code(r"""
cond = gan.GANConfig.preset(PROFILE, conditional=True, num_classes=10).replace(d_conditioning="projection")
torch.manual_seed(0)
g_cond, d_cond = (m.to(DEVICE).eval() for m in gan.build_gan(cond))  # eval: batch norm uses running statistics
z_one = gan.sample_noise(1, cond.z_dim, device=DEVICE, generator=GEN).repeat(10, 1)  # the SAME z ten times
labels = torch.arange(10, device=DEVICE)
with torch.no_grad():
    x_cond = g_cond(z_one, labels)  # (10, 1, 28, 28): one per class
differences = (x_cond.flatten(1)[:, None] - x_cond.flatten(1)[None]).abs().mean(-1)  # (10, 10)
off_diagonal = differences[~torch.eye(10, dtype=torch.bool, device=DEVICE)]
print(f"same z, different labels: mean |difference| between two images {off_diagonal.mean():.5f}, "
      f"{off_diagonal.mean() / x_cond.abs().mean():.0%} of the mean |pixel| (min {off_diagonal.min():.5f})")
assert off_diagonal.min() > 0, "every label should change the output"

with torch.no_grad():
    one_image = real[:1].repeat(10, 1, 1, 1).to(DEVICE)  # the same real image under each of the 10 labels
    phi = d_cond.flatten(d_cond.features(one_image))  # (10, F) features phi(x)
    by_hand = d_cond.head(phi).squeeze(1) + (d_cond.embedding(labels) * phi).sum(1)  # psi(phi(x)) + <e(y), phi(x)>
    logits_per_label = d_cond(one_image, labels)  # (10,)
assert torch.allclose(by_hand, logits_per_label, atol=1e-5)
assert logits_per_label.unique().numel() == 10
print(f"D(x, y) of one real {data.class_names[data.labels[0]]!r} image under labels 0..9:",
      [round(v, 3) for v in logits_per_label.tolist()])

x_show = x_cond.cpu()
effect = x_show - x_show.mean(0, keepdim=True)  # (10, 1, 28, 28): what each label adds to the shared image
fig, axes = plt.subplots(2, 1, figsize=(9, 3.4))
show_images(x_show / x_show.abs().max(), nrow=10, ax=axes[0],
            title="untrained conditional G: one z, labels 0..9 (contrast stretched)")
show_images(effect / effect.abs().max(), nrow=10, ax=axes[1],
            title="each image minus their mean: what the label changes (stretched)")
plt.show()
""")

md(r"""
Untrained, the generator's pixels are all close to 0 (grey, see section 2), and the label changes them by a
comparable small amount; stretched, both are visible. After training (notebook 05) the same z with labels 0 … 9 gives
a T-shirt, a trouser, … an ankle boot in the same "style".
""")

# ============================================================================ summary & exercises

md(r"""
## Summary

- A generator maps noise z ~ N(0, I) to an image in the data's range: **tanh** for [-1, 1] data. The MLP generator
  100 → 128 → 256 → 512 → 1024 → 784 has 1,506,448 parameters and reshapes 784 = 28 × 28 numbers to **(1, 28, 28)**
  (PyTorch's channels-first layout), not (32, 32, 1).
- A discriminator maps an image to a **logit**; probabilities are σ(logit) and the losses take logits. No ReLU at the
  end.
- DCGAN: transposed convolutions (k = 4, s = 2, p = 1 doubles the size and avoids the checkerboard), batch norm,
  ReLU in G, LeakyReLU(0.2) in D, N(0, 0.02) initialisation; image size 28, 32 or 64 by one argument.
- The receptive field follows r_out = r_in + (k - 1) j_in, j_out = j_in s; a patch discriminator returns a map of
  logits, each judging one receptive field — it can say *where* an image looks fake.
- Conditioning: a label embedding concatenated to z in G; concatenation or the projection ψ(φ(x)) + ⟨e(y), φ(x)⟩ in D.

Next: notebook 04 puts losses on these logits and measures what makes training stable; notebook 05 trains them.
""")

md(r"""
## Exercises

Each cell holds a reference answer and checks it against the library. Replace the answer with your own working
(by hand, not by calling the library) and re-run the cell.

**1.** How many parameters has the first transposed convolution of the `gpu` DCGAN generator for 28 × 28
(128 → 64 channels, kernel 4, no bias)? And its batch norm?
""")

code(r"""
answer_convt = 128 * 64 * 4 * 4  # your answer
answer_bn = 2 * 64  # your answer: a scale and a shift per channel
g_gpu = gan.DCGANGenerator(z_dim=100, base_channels=64, image_size=28)  # the gpu preset's widths
convt, bn = g_gpu.net[2], g_gpu.net[3]
assert isinstance(convt, nn.ConvTranspose2d) and answer_convt == gan.count_parameters(convt)
assert answer_bn == gan.count_parameters(bn)
print("correct:", answer_convt, answer_bn)
""")

md(r"""
**2.** The patch discriminator for 32 × 32 images has three convolutions with k = 4, s = 2, p = 1 and a 3 × 3,
stride-1 head. Use the recurrence to find the receptive field of one logit and the jump between neighbours.
""")

code(r"""
answer_rf = 1 + 3 * 1 + 3 * 2 + 3 * 4 + 2 * 8  # your answer: r grows by (k - 1) * j at every layer
answer_jump = 2 * 2 * 2 * 1  # your answer
field = gan.receptive_field(gan.DCGANDiscriminator(image_size=32, patch=True))
assert (answer_rf, answer_jump) == (field.size, field.jump), (field.size, field.jump)
print("correct:", answer_rf, answer_jump)
""")

md(r"""
**3.** An MLP generator for 32 × 32 colour images: how many units must its last layer have, and what shape does one
batch of 5 images have in PyTorch?
""")

code(r"""
answer_units = 3 * 32 * 32  # your answer
answer_shape = (5, 3, 32, 32)  # your answer (channels first!)
g_rgb = gan.MLPGenerator(image_shape=(3, 32, 32))
last_linear = [m for m in g_rgb.modules() if isinstance(m, nn.Linear)][-1]
assert answer_units == last_linear.out_features
assert answer_shape == tuple(g_rgb(torch.randn(5, 100)).shape)
print("correct:", answer_units, answer_shape)
""")

md(r"""
**4.** Which padding p makes a transposed convolution with k = 4, s = 2 map 7 → 14, and which kernel k (same s = 2,
p = 0) maps 4 → 10?
""")

code(r"""
answer_padding = 1  # your answer: 14 = (7 - 1) * 2 - 2p + 4
answer_kernel = 4  # your answer: 10 = (4 - 1) * 2 + k
assert gan.conv_transpose_output_size(7, kernel=4, stride=2, padding=answer_padding) == 14
assert gan.conv_transpose_output_size(4, kernel=answer_kernel, stride=2, padding=0) == 10
print("correct:", answer_padding, answer_kernel)
""")

md(r"""
## References

- Goodfellow et al. 2014, *Generative Adversarial Nets*, arXiv:1406.2661.
- Mirza and Osindero 2014, *Conditional Generative Adversarial Nets*, arXiv:1411.1784.
- Radford, Metz and Chintala 2015, *Unsupervised Representation Learning with Deep Convolutional GANs* (DCGAN),
  arXiv:1511.06434.
- Ioffe and Szegedy 2015, *Batch Normalization*, arXiv:1502.03167.
- Dumoulin and Visin 2016, *A guide to convolution arithmetic for deep learning*, arXiv:1603.07285.
- Odena, Dumoulin and Olah 2016, *Deconvolution and Checkerboard Artifacts*, Distill, doi:10.23915/distill.00003.
- Isola et al. 2017, *Image-to-Image Translation with Conditional Adversarial Networks* (PatchGAN), arXiv:1611.07004.
- Xiao, Rasul and Vollgraf 2017, *Fashion-MNIST*, arXiv:1708.07747.
- Miyato and Koyama 2018, *cGANs with Projection Discriminator*, arXiv:1802.05637.
- Miyato et al. 2018, *Spectral Normalization for Generative Adversarial Networks*, arXiv:1802.05957.
- Araujo, Norris and Sim 2019, *Computing Receptive Fields of Convolutional Neural Networks*, Distill,
  doi:10.23915/distill.00021.
- Esser, Rombach and Ommer 2021, *Taming Transformers for High-Resolution Image Synthesis*, arXiv:2012.09841.
- Rombach et al. 2022, *High-Resolution Image Synthesis with Latent Diffusion Models*, arXiv:2112.10752.
""")


nb.write()
