"""Build notebooks/06_evaluating_generators.ipynb (run from anywhere; then render it with tools/render_notebooks.py)."""

from __future__ import annotations

from notebook_builder import NotebookBuilder, colab_setup_source

nb = NotebookBuilder("06_evaluating_generators")
md, code = nb.md, nb.code


md(r"""
# 06 · Evaluating generators

A generator produces images nobody has seen before, so there is no "right answer" to compare each one with. How do
you say that one GAN is better than another? This notebook builds every common answer, shows what each one measures
— and, just as important, what it misses.

## Goals

- compute **FID** and **KID** on the course's own feature network, with real-vs-real and noise baselines, and see why
  FID depends on the number of samples;
- separate **quality from diversity** with **precision and recall**, on a deliberately mode-collapsed "generator" and a
  deliberately blurry one;
- understand why **SSIM** needs a reference image and cannot score a generated image on its own;
- check a generator for **memorisation** with nearest neighbours;
- run a **human evaluation** (a real-or-fake game) and an **adversarial evaluation** (a classifier two-sample test).

## Prerequisites

Notebook 05 (what a trained GAN produces) helps but is not needed: here the "generators" are built from real data, so
we know exactly what is wrong with each. Basic statistics (mean, covariance), and the idea of a classifier.

## Time

| profile | samples per set | time |
|---|---|---|
| `ci` | 400 | under 30 s |
| `cpu` | 2,000 | about 2 minutes |
| `gpu` | 2,000 (FID-vs-N curve up to 10,000) | about 2 minutes |
""")

code(
    colab_setup_source()
    + r'''
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display

from sdgan_course import metrics
from sdgan_course.classifier import load_classifier
from sdgan_course.config import get_profile
from sdgan_course.data import DataError, load_images, to_unit_range
from sdgan_course.device import describe_device, get_device, seed_everything
from sdgan_course.viz import show_images

PROFILE = get_profile()
DEVICE = get_device()
GEN = seed_everything(0)
# ci runs beside other jobs on 2 shared CPU cores, where one thread per process is fastest; elsewhere torch decides
torch.set_num_threads({"ci": 1, "cpu": torch.get_num_threads(), "gpu": torch.get_num_threads()}[PROFILE])
N = {"ci": 400, "cpu": 2000, "gpu": 2000}[PROFILE]  # images per evaluated set
T0 = time.perf_counter()
print(f"profile {PROFILE} | device {describe_device(DEVICE)} | {N} images per set")
'''
)

md(r"""
## 1. The judge: a feature network

Every metric below compares *sets* of images through a feature network. The standard FID uses Inception-v3 trained
on ImageNet photographs (Heusel et al. 2017); for 28×28 greyscale garments the course trains its own small CNN
(`python -m sdgan_course train classifier`) and ships it with its SHA-256 and test accuracy. Its 128-d penultimate
layer is the feature space. Numbers are comparable **within this course only** — never with FIDs in papers, which use
other features, other data and other sample sizes.

The real-data statistics (mean and covariance of all 60,000 training features) are cached in a file keyed by the
classifier's checksum, so they are computed once.
""")

code(r'''
CLF = load_classifier("fashion_mnist", device=DEVICE)
print(f"classifier {CLF.path.name}: sha256 {CLF.sha256[:16]}..., test accuracy {CLF.test_accuracy:.2%}")
REF = metrics.reference_statistics("fashion_mnist", "train", classifier=CLF, num_features=N)
test = load_images("fashion_mnist", "test", limit=N)
CLASSES = test.class_names
real = metrics.extract_features(test.images, CLF)
assert REF.mu.shape == (128,) and REF.sigma.shape == (128, 128) and REF.features.shape == (N, 128)
assert real.features.shape == (N, 128) and torch.allclose(real.probs.sum(1), torch.ones(N))
acc = (real.probs.argmax(1) == test.labels).float().mean().item()
print(f"reference: {REF.n} training images; accuracy on these {N} test images: {acc:.2%}")

# a picture of the feature space: the two main directions (PCA) of the test features, coloured by class
centred = real.features - real.features.mean(0)
_, _, vt = torch.linalg.svd(centred, full_matrices=False)
xy = centred @ vt[:2].T  # (N, 2)
fig, ax = plt.subplots(figsize=(6, 4.5))
for c in range(10):
    m = test.labels == c
    ax.scatter(xy[m, 0], xy[m, 1], s=6, label=CLASSES[c])
ax.set_title("course features of real test images (first two principal components)")
ax.legend(fontsize=7, markerscale=2, ncol=2)
plt.show()
''')

md(r"""
## 2. Fréchet distance (FID) and its baselines

FID fits a Gaussian to each feature set and measures the Fréchet (2-Wasserstein) distance between the two Gaussians
(Heusel et al. 2017, arXiv:1706.08500, eq. 6):

$$\mathrm{FID} = \lVert\mu_r - \mu_g\rVert^2
  + \operatorname{Tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big).$$

The first term compares the average feature, the second the spread. Lower is better; 0 means equal means and
covariances (not equal distributions!). Written inline, then checked against the library:
""")

code(r'''
def fid_by_hand(fa, fb):
    fa, fb = fa.double(), fb.double()
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = torch.cov(fa.T), torch.cov(fb.T)
    # Tr (Sa Sb)^(1/2) = sum of square roots of the eigenvalues of Sa Sb (real and >= 0 for covariances)
    tr_sqrt = torch.linalg.eigvals(sa @ sb).real.clamp_min(0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + sa.trace() + sb.trace() - 2 * tr_sqrt)


half_a, half_b = real.features[: N // 2], real.features[N // 2 :]
mine, library = fid_by_hand(half_a, half_b), metrics.fid_from_features(half_a, half_b)
print(f"FID(test half A, test half B): by hand {mine:.4f}, library {library:.4f}")
assert abs(mine - library) < 1e-4 * max(1.0, library)
assert metrics.fid_from_features(half_a, half_a) < 1e-6  # identical sets
''')

md(r"""
A number means nothing without baselines. We build four "generators" from real data, so we know what is wrong with
each:

- **real**: held-out real test images — the best any generator can do (its FID is *not* 0: sampling noise);
- **blurry**: the same images, Gaussian-blurred (σ = 1.2 px) — right classes, wrong details;
- **two classes**: real images of only trousers and bags — perfect quality, terrible diversity (*mode collapse*);
- **noise**: uniform random pixels — the worst case.
""")

code(r'''
def blur(x, sigma=1.2, size=7):
    """Gaussian blur of images (B, 1, 28, 28) in [-1, 1]; the black background (-1) pads the border."""
    w = metrics.gaussian_window(size, sigma, dtype=torch.float32)[None, None]  # (1, 1, size, size)
    return F.conv2d(F.pad(x, (size // 2,) * 4, value=-1.0), w)  # (B, 1, 28, 28)


full_test = load_images("fashion_mnist", "test")
two = torch.isin(full_test.labels, torch.tensor([1, 8]))  # trousers and bags
pick = torch.randperm(int(two.sum()), generator=GEN)[:N]
FAKES = {
    "real": test.images,
    "blurry": blur(test.images),
    "two classes": full_test.images[two][pick],
    "noise": torch.rand(N, 1, 28, 28, generator=GEN) * 2 - 1,
}
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
for ax, (name, x) in zip(axes, FAKES.items()):
    assert x.shape == (N, 1, 28, 28) and x.min() >= -1 and x.max() <= 1, name
    show_images(x[:16], nrow=4, title=name, ax=ax)
plt.show()

SCORES = {name: metrics.score_samples(x, REF, CLF, kid_subset_size=min(1000, N)) for name, x in FAKES.items()}
print(metrics.format_table(SCORES, keys=["fid", "kid", "precision", "recall", "density", "coverage",
                                         "inception_score", "class_entropy", "classes_covered"]))
assert SCORES["real"]["fid"] < SCORES["blurry"]["fid"] < SCORES["noise"]["fid"]
assert SCORES["real"]["fid"] < SCORES["two classes"]["fid"]
''')

md(r"""
FID ranks them sensibly, but a single number hides *why*: the blurry set and the two-class set are bad in opposite
ways. Notice also that the "real" FID is above zero: with finite samples the estimated covariance is noisy, and that
noise can only add distance.

## 3. FID is biased: it depends on the number of samples

FID's estimate is biased upwards, roughly by a constant divided by N (Bińkowski et al. 2018, arXiv:1801.01401;
Chong and Forsyth 2020, arXiv:1911.07023). Two papers that report FID on different N are not comparable. KID —
the squared maximum mean discrepancy with the kernel $k(x, y) = (x^\top y / d + 1)^3$, estimated without the
diagonal terms — is unbiased: its average does not move with N.
""")

code(r'''
NS = {"ci": [50, 100, 200, 400], "cpu": [50, 100, 200, 500, 1000, 2000, 5000],
      "gpu": [50, 100, 200, 500, 1000, 2000, 5000, 10000]}[PROFILE]
REPEATS = {"ci": 3, "cpu": 5, "gpu": 5}[PROFILE]
pool_images = load_images("fashion_mnist", "test", limit=max(NS)).images
pool = metrics.extract_features(pool_images, CLF).features
blur_pool = metrics.extract_features(blur(pool_images), CLF).features
curves = {"real test": ([], [], []), "blurry": ([], [], [])}
for name, feats in (("real test", pool), ("blurry", blur_pool)):
    for n in NS:
        fids, kids = [], []
        for _ in range(REPEATS):
            sub = feats[torch.randperm(len(feats), generator=GEN)[:n]]
            st = metrics.feature_statistics(sub)
            fids.append(metrics.frechet_distance(st.mu, st.sigma, REF.mu, REF.sigma))
            kids.append(metrics.kid_from_features(REF.features, sub, num_subsets=10, subset_size=min(n, 1000)).mean)
        curves[name][0].append(np.mean(fids))
        curves[name][1].append(np.std(fids))
        curves[name][2].append(np.mean(kids))

fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(14, 3.6))
for name, (fm, fs, km) in curves.items():
    a1.errorbar(NS, fm, yerr=fs, marker="o", capsize=3, label=name)
    a3.plot(NS, km, "o-", label=name)
    slope, intercept = np.polyfit(1 / np.array(NS), fm, 1)  # FID(N) ~ FID_inf + slope / N
    print(f"{name:>9}: FID at N={NS[-1]}: {fm[-1]:.3f}; extrapolated to N = infinity: {intercept:.3f}")
    if name == "real test":
        a2.plot(1 / np.array(NS), fm, "o-", label=name)
        a2.plot([0, 1 / min(NS)], [intercept, intercept + slope / min(NS)], "k:", lw=1, label="fit: FID_inf + c / N")
a1.set(xscale="log", yscale="log", xlabel="N (samples)", ylabel="FID", title="FID falls as N grows")
a2.set(xlabel="1 / N", ylabel="FID", title="real test: linear in 1/N", xlim=(0, None))
a3.set(xscale="log", yscale="symlog", xlabel="N (samples)", ylabel="KID (symlog)", title="KID: no trend with N")
a3.axhline(0, color="k", lw=0.5)
for a in (a1, a3):
    a.set_xticks(NS, [str(n) for n in NS])
    a.minorticks_off()
for a in (a1, a2, a3):
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
plt.show()
assert curves["real test"][0][0] > curves["real test"][0][-1]  # the bias: more samples, lower FID
''')

md(r"""
The lesson: **always report N** (and compare only at equal N), or extrapolate to N = ∞ as in the middle panel
(Chong and Forsyth's "FID∞").

## 4. Precision and recall: quality and diversity, separately

Kynkäänniemi et al. 2019 (arXiv:1904.06991) estimate each distribution's *manifold* as a union of balls: around every
feature vector, a ball reaching its k-th nearest neighbour (k = 3). Then

- **precision** = fraction of generated samples inside the real manifold (are the samples realistic?);
- **recall** = fraction of real samples inside the generated manifold (is all of the real data covered?).
""")

code(r'''
fig, ax = plt.subplots(figsize=(5, 4.2))
for name, s in SCORES.items():
    ax.scatter(s["recall"], s["precision"], s=60)
    ax.annotate(name, (s["recall"], s["precision"]), textcoords="offset points", xytext=(6, 4))
ax.set(xlim=(-0.05, 1.1), ylim=(-0.05, 1.1), xlabel="recall (diversity)", ylabel="precision (quality)",
       title="each failure has its own corner")
ax.grid(alpha=0.3)
plt.show()
two_cls, blurry = SCORES["two classes"], SCORES["blurry"]
print(f"two classes: precision {two_cls['precision']:.2f}, recall {two_cls['recall']:.2f} -> realistic, not diverse")
print(f"blurry:      precision {blurry['precision']:.2f}, recall {blurry['recall']:.2f} -> off the real manifold")
assert two_cls["precision"] > two_cls["recall"] + 0.3  # mode collapse: high precision, low recall
assert two_cls["classes_covered"] <= 3 and SCORES["real"]["classes_covered"] == 10
''')

md(r"""
Look at **noise**: its recall is 0, as it should be, but its precision is not 0 — it can even be high. Precision
asks only "does each sample fall inside *some* real ball?", and a few unusual real images have huge k-NN balls that
swallow whole regions of feature space. Where do the noise features land?
""")

code(r'''
real_feats = REF.features[:N].float()
radii = metrics.knn_radii(real_feats, k=3)  # (N,) ball radius of every real feature
noise_feats = metrics.extract_features(FAKES["noise"], CLF).features
inside = torch.cdist(noise_feats, real_feats) <= radii[None]  # (N, N): noise sample j inside the ball of real i
covering = inside.any(0).nonzero()[:, 0]  # the real points whose balls hold some noise
print(f"noise precision {inside.any(1).float().mean():.2f}: the noise samples that count as 'realistic' all fall "
      f"inside the balls of only {len(covering)} of the {N} real images")
if len(covering):
    pct = (radii[covering, None] > radii[None]).float().mean(1) * 100  # percentile of each covering radius
    print("percentiles of those balls' radii among all real radii:",
          ", ".join(f"{p:.0f}" for p in pct.sort(descending=True).values.tolist()[:10]))
assert SCORES["noise"]["recall"] < 0.05 and SCORES["noise"]["coverage"] < 0.05
''')

md(r"""
A handful of outliers with oversized balls: a known weakness of k-NN precision and recall, which are not robust to
outliers. Naeem et al. 2020 (arXiv:2002.09797) propose **density** (how many real balls hold each sample, divided by
k: about 1 for real data) and **coverage** (the fraction of real points with a sample inside their ball); both are in
the table above (`metrics.density_coverage`). Coverage is not fooled by the noise at all; density is fooled less than
precision (the oversized balls overlap, so it does not drop to 0 with few samples). The general lesson: read every
metric next to its baselines and next to the other metrics.

The class histogram tells the same story in a way that is easy to read: the Inception-score analogue and the class
entropy use only the classifier's predictions, never the real data.
""")

code(r'''
fig, axes = plt.subplots(1, 4, figsize=(14, 2.6), sharey=True)
for ax, (name, s) in zip(axes, SCORES.items()):
    ax.bar(range(10), s["class_histogram"])
    ax.set_title(f"{name}\nentropy {s['class_entropy']:.2f}, IS {s['inception_score']:.1f}", fontsize=9)
    ax.set_xticks(range(10), [c[:5] for c in CLASSES], rotation=90, fontsize=7)
axes[0].set_ylabel("fraction predicted")
plt.show()
''')

md(r"""
## 5. SSIM needs a reference

SSIM (Wang et al. 2004) compares two images window by window: local means (luminance), variances (contrast) and
covariance (structure), each with a small constant for stability:

$$\mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
  {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
\qquad C_1 = (0.01 L)^2,\ C_2 = (0.03 L)^2,$$

averaged over 11×11 Gaussian windows (σ = 1.5). It answers "how close is *y* to *x*?" — useful for reconstructions,
compression and image-to-image tasks. A generated image has **no** reference, so SSIM cannot score it on its own.
Even with a reference it is a *pixel-alignment* measure: a two-pixel shift of the same garment scores worse than a
blur. The course features (cosine similarity) see it differently.
""")

code(r'''
x = test.images[:1]
i_same = int((test.labels == test.labels[0]).nonzero()[1])  # another image of the same class
i_other = int((test.labels != test.labels[0]).nonzero()[0])  # an image of another class
other_same, other_class = test.images[i_same : i_same + 1], test.images[i_other : i_other + 1]
variants = {
    "itself": x,
    "shifted 2 px": torch.roll(x, shifts=2, dims=-1),
    "blurred": blur(x),
    "noisy": (x + 0.3 * torch.randn(x.shape, generator=GEN)).clamp(-1, 1),
    "brighter": (x + 0.3).clamp(-1, 1),
    f"another {CLASSES[int(test.labels[0])]}": other_same,
    "another class": other_class,
}
fig, axes = plt.subplots(1, len(variants), figsize=(14, 2.6))
for ax, (name, y) in zip(axes, variants.items()):
    s = metrics.ssim(x, y).item()
    cos = metrics.feature_cosine_similarity(x, y, CLF).item()
    ax.imshow(to_unit_range(y)[0, 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{name}\nSSIM {s:.2f} | cos {cos:.2f}", fontsize=8)
    ax.axis("off")
plt.show()
assert abs(metrics.ssim(x, x).item() - 1) < 1e-6
assert metrics.ssim(x, variants["shifted 2 px"]).item() < metrics.ssim(x, variants["blurred"]).item()
''')

md(r"""
Check the formula on a case with a closed form: two constant images have zero variance everywhere, so
SSIM = (2ab + C₁) / (a² + b² + C₁) for grey levels a, b in [0, 1].
""")

code(r'''
a, b, c1 = 0.3, 0.6, 0.01**2
flat_a, flat_b = torch.full((1, 1, 28, 28), 2 * a - 1), torch.full((1, 1, 28, 28), 2 * b - 1)
closed_form = (2 * a * b + c1) / (a * a + b * b + c1)
print(f"SSIM of constant images {a} and {b}: closed form {closed_form:.5f}, library {metrics.ssim(flat_a, flat_b):.5f}")
assert abs(metrics.ssim(flat_a, flat_b).item() - closed_form) < 1e-5
''')

md(r"""
## 6. Memorisation: is the generator copying its training set?

A generator that returns training images would get excellent FID, precision *and* recall — and be useless. The check:
for every sample find its nearest training image (pixel distance), and compare with the same distance for **held-out
real images**, which cannot be copies. Below, a "copying generator" returns training images plus faint noise.
""")

code(r'''
M_TRAIN = {"ci": 5000, "cpu": 20000, "gpu": None}[PROFILE]  # None: all 60,000
train_subset = load_images("fashion_mnist", "train", limit=M_TRAIN).images
heldout = load_images("fashion_mnist", "test", limit=min(1000, N) + N).images[N:]  # not the 'real' set above
idx = torch.randperm(len(train_subset), generator=GEN)[:N]
copier = (train_subset[idx] + 0.02 * torch.randn(N, 1, 28, 28, generator=GEN)).clamp(-1, 1)
mem = {name: metrics.memorisation_check(x, train_subset, heldout) for name, x in
       {"copying generator": copier, "real test (honest)": test.images}.items()}
for name, m in mem.items():
    print(f"{name:>19}: copies {m.copy_fraction:6.1%}  median NN distance / held-out median = {m.median_ratio:.2f}")
assert mem["copying generator"].copy_fraction > 0.9 and mem["real test (honest)"].copy_fraction < 0.1

fig, axes = plt.subplots(1, 3, figsize=(15, 3.4), gridspec_kw={"width_ratios": [1.2, 1, 1]})
bins = np.linspace(0, float(mem["real test (honest)"].baseline_distances.max()), 40)
axes[0].hist(mem["copying generator"].baseline_distances, bins, alpha=0.5, label="held-out real (baseline)")
for name, m in mem.items():
    axes[0].hist(m.sample_distances, bins, alpha=0.5, label=name)
axes[0].axvline(mem["copying generator"].threshold, color="k", ls=":", label="1% of held-out")
axes[0].set(xlabel="RMS distance to nearest training image", title="nearest-neighbour distances")
axes[0].legend(fontsize=7)
for ax, (name, x) in zip(axes[1:], {"copying generator": copier, "real test (honest)": test.images}.items()):
    nn_idx = mem[name].sample_indices[:6]
    show_images(torch.cat([x[:6], train_subset[nn_idx]]), nrow=6, ax=ax)
    ax.set_title(f"{name}\ntop: samples | bottom: nearest training images", fontsize=9)
plt.show()
''')

md(r"""
Two caveats: pixel distance misses copies that are shifted or flipped (compare features too), and a search over a
subset of the training set can only find copies of that subset (the `cpu`/`gpu` profiles search more of it).

## 7. Human evaluation: the real-or-fake game

The oldest evaluation is to ask people. Below, each round shows one image — real, or from a "generator" (the shipped
GAN if this checkout has it, else the blurry set). Press **Real** or **Fake**; the widget keeps score. A perfect
generator pins you at 50%.
""")

code(r'''
try:
    from sdgan_course.train import generate, load_shipped_gan

    gan = load_shipped_gan("gan_fashion_mnist", device=DEVICE)
    GAME_FAKES = generate(gan.generator, 64, z_dim=gan.config.z_dim, generator_rng=GEN)
    GAME_SOURCE = f"the shipped GAN (step {gan.step})"
except (ImportError, DataError, FileNotFoundError, RuntimeError) as err:
    GAME_FAKES, GAME_SOURCE = blur(test.images[-64:]), "blurred real images (no shipped GAN found here)"
    print(f"using blurred images as the fakes: {str(err).splitlines()[0][:120]}")
print(f"fakes: {GAME_SOURCE}")


class RealOrFake:
    """One round = one image, real or fake with probability 1/2; score the guesses."""

    def __init__(self, real_images, fake_images, seed=0):
        self.real, self.fake = real_images, fake_images
        self.rng = np.random.default_rng(seed)
        self.rounds = self.correct = 0
        self.new_round()

    def new_round(self):
        self.is_real = bool(self.rng.random() < 0.5)
        pool = self.real if self.is_real else self.fake
        self.image = pool[self.rng.integers(len(pool))]

    def guess(self, says_real):
        right = says_real == self.is_real
        self.rounds += 1
        self.correct += int(right)
        self.new_round()
        return right


game = RealOrFake(test.images, GAME_FAKES)
view, score = widgets.Output(), widgets.Label("score: 0 / 0")
buttons = [widgets.Button(description="Real"), widgets.Button(description="Fake")]


def draw(message=""):
    score.value = f"{message} score: {game.correct} / {game.rounds}"
    with view:
        view.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(to_unit_range(game.image)[0], cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
        plt.show()


def on_click(button):
    right = game.guess(button.description == "Real")
    draw("right!" if right else "wrong.")


for button in buttons:
    button.on_click(on_click)
draw()
display(widgets.VBox([view, widgets.HBox(buttons), score]))

# the scoring logic, checked without a human: always answering with the truth scores 100%
truth = RealOrFake(test.images, GAME_FAKES, seed=1)
assert all(truth.guess(truth.is_real) for _ in range(20)) and truth.correct == truth.rounds == 20
''')

md(r"""
Human studies are the ground truth for *visual quality*, but slow, expensive, noisy and blind to diversity (one great
image shown twice looks fine). HYPE (Zhou et al. 2019, arXiv:1904.01121) turns this game into a standardised
benchmark.

## 8. Adversarial evaluation: a classifier two-sample test

Replace the human with a fresh classifier: train it to tell real from generated images on part of the data and
measure its accuracy on the rest (Lopez-Paz and Oquab 2017, arXiv:1610.06545). If the two distributions were equal
no classifier could beat 50% on held-out data. Unlike the GAN's own discriminator, this judge was never fooled
during training.
""")

code(r'''
STEPS = {"ci": 100, "cpu": 400, "gpu": 800}[PROFILE]
other_real = load_images("fashion_mnist", "train", limit=N).images  # a second real sample
c2st = {name: metrics.classifier_two_sample_test(other_real, x, steps=STEPS, device=DEVICE)
        for name, x in FAKES.items()}
for name, r in c2st.items():
    print(f"{name:>12}: held-out accuracy {r.accuracy:.1%} (+-{r.std_error:.1%} at chance, {r.num_test} test images)")
assert abs(c2st["real"].accuracy - 0.5) < 0.15 and c2st["noise"].accuracy > 0.95
''')

md(r"""
## 9. The standard Inception FID

To compare with papers you need the standard Inception FID. The library computes it when the `pytorch-fid` package
and its weight file are present (`python -m sdgan_course evaluate SAMPLES.npz --inception`); otherwise it says what is
missing and carries on. Even then, 28×28 greyscale images upsampled to 299×299 RGB are far from the photographs the
network was trained on.
""")

code(r'''
print(metrics.inception_fid_status().message)
''')

md(r"""
## Summary

| metric | measures | misses |
|---|---|---|
| FID | distance of feature Gaussians (quality + diversity) | which one is wrong; biased in N; feature network |
| KID | kernel distance of feature distributions, unbiased | same mixing; higher variance |
| precision / recall | quality and coverage, separately | fooled by outliers; depend on k and N |
| density / coverage | the same, robust to outliers | still depend on k, N and the features |
| IS analogue, class entropy | confident, varied predictions | never sees real data; within-class diversity |
| SSIM, feature cosine | closeness to a reference image | needs a reference: cannot score a sample alone |
| nearest neighbours | copying of training images | shifted/flipped copies (in pixel space); subsets |
| human game | perceived realism | diversity; cost; noise |
| two-sample test | any detectable difference | *what* the difference is; depends on the judge's capacity |

Report several, with N, the feature network and its checksum, and real-vs-real baselines. `python -m sdgan_course
evaluate SAMPLES.npz --dataset fashion_mnist` prints all of them as a table and JSON.

## Exercises

1. **KID by hand.** Write the unbiased MMD² with the kernel $k(x, y) = (x^\top y/d + 1)^3$ (leave out the diagonal
   terms $k(x_i, x_i)$) and check it against `metrics.mmd2_unbiased`.
2. **Read the corner.** Of "blurry" and "two classes", which has the higher precision (its samples look real) even
   though it covers little of the real data? Answer with its name.
3. **Two-sample thinking.** The blurry set and the real set have the same classes. Predict: is the two-sample accuracy
   for "blurry" closer to 50% or to 100%? Store 50 or 100.
""")

code(r'''
# Exercise 1 (reference solution; replace with your own and re-run)
def my_mmd2(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    within_x = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    within_y = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2 * k(x, y).mean())


fx, fy = REF.features[:100].double(), real.features[:80].double()
assert abs(my_mmd2(fx, fy) - metrics.mmd2_unbiased(fx, fy)) < 1e-8 * max(1.0, abs(metrics.mmd2_unbiased(fx, fy)))

# Exercise 2
higher_precision = "two classes"
pair = ("blurry", "two classes")
assert higher_precision == max(pair, key=lambda name: SCORES[name]["precision"]), "look at the precision/recall plot"

# Exercise 3
blurry_accuracy_closer_to = 100
assert blurry_accuracy_closer_to == (100 if c2st["blurry"].accuracy > 0.75 else 50)
print(f"all exercises check out; notebook ran in {time.perf_counter() - T0:.1f} s")
''')

md(r"""
## References

- Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter 2017. *GANs trained by a two time-scale update rule converge to
  a local Nash equilibrium* (FID). arXiv:1706.08500
- Bińkowski, Sutherland, Arbel, Gretton 2018. *Demystifying MMD GANs* (KID). arXiv:1801.01401
- Kynkäänniemi, Karras, Laine, Lehtinen, Aila 2019. *Improved precision and recall metric for assessing generative
  models*. arXiv:1904.06991
- Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen 2016. *Improved techniques for training GANs* (Inception
  score). arXiv:1606.03498
- Chong, Forsyth 2020. *Effectively unbiased FID and Inception score and where to find them*. arXiv:1911.07023
- Wang, Bovik, Sheikh, Simoncelli 2004. *Image quality assessment: from error visibility to structural similarity*.
  IEEE Transactions on Image Processing 13(4)
- Lopez-Paz, Oquab 2017. *Revisiting classifier two-sample tests*. arXiv:1610.06545
- Zhou, Gordon, Krishna, Narcomey, Fei-Fei, Bernstein 2019. *HYPE: a benchmark for human eYe perceptual evaluation
  of generative models*. arXiv:1904.01121
- Borji 2019. *Pros and cons of GAN evaluation measures*. arXiv:1802.03446
""")

nb.write()
