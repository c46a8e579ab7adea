"""Facts about the course itself: where it lives and what it contains.

``REPOSITORY`` is the one place that names the course's address. A fork changes this line, then runs
``python tools/sync_course.py`` to rewrite the README's course map and every notebook's Colab cell.
"""

from __future__ import annotations

from typing import NamedTuple

REPOSITORY = "https://github.com/sdgan-course/sdgan_course"
BRANCH = "main"
DATA_URL = f"{REPOSITORY.replace('github.com', 'raw.githubusercontent.com')}/{BRANCH}/data"


class Notebook(NamedTuple):
    """One entry of the course map; times are the minutes one run of the notebook computes in the cpu and gpu profiles
    (reading and exercises come on top)."""

    stem: str
    title: str
    topic: str
    minutes_cpu: int
    minutes_gpu: int


NOTEBOOKS = (
    Notebook("00_start_here", "Start here", "set-up, device and profile check, the data, the course map", 1, 1),
    Notebook("01_the_landscape", "The landscape", "GANs, VAEs, diffusion, latent diffusion; misconceptions", 1, 1),
    Notebook("02_gan_mathematics", "GAN mathematics", "value function, optimal D, JSD, saturation, mode collapse", 2, 2),
    Notebook("03_generator_and_discriminator", "Generator and discriminator", "MLP and DCGAN, shapes, receptive field, conditioning", 1, 1),
    Notebook("04_losses_and_stability", "Losses and stability", "BCE, LSGAN, hinge, WGAN(-GP), R1, spectral norm, measured", 7, 8),
    Notebook("05_training_a_gan", "Training a GAN", "the full loop on Fashion-MNIST: EMA, checkpoints, conditioning", 5, 8),
    Notebook("06_evaluating_generators", "Evaluating generators", "FID, KID, precision/recall, SSIM, memorisation, two-sample tests", 2, 2),
    Notebook("07_generate_score_select", "Generate, score, select", "best-of-N, rejection sampling, latent interpolation", 4, 2),
    Notebook("08_variational_autoencoders", "Variational autoencoders", "ELBO, reparameterisation, KL, the autoencoder latent diffusion needs", 5, 3),
    Notebook("09_diffusion_from_scratch", "Diffusion from scratch (DDPM)", "forward process, schedules, noise prediction, U-Net, sampling", 15, 5),
    Notebook("10_faster_and_steerable_sampling", "Faster and steerable sampling", "DDIM, DPM-Solver++, quality vs cost, classifier-free guidance", 10, 10),
)

# The rest of the arc (notebooks 08-12, planned), shown in the README's course map until each notebook lands.
PLANNED = (
    ("11", "Stable Diffusion in miniature", "latent diffusion with text and cross-attention, mapped to the real one"),
    ("12", "GANs vs diffusion", "quality vs compute, sampling speed, diversity; DALL-E, CLIP, NeRF"),
)


def colab_url(stem: str) -> str:
    """The "Open in Colab" address of a notebook."""
    path = REPOSITORY.replace("https://github.com/", "")
    return f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{stem}.ipynb"


SETUP_MARKER = "# ---- end of course set-up ----"


def colab_setup_source() -> str:
    """The canonical opening of every notebook's first code cell (kept in sync by ``tools/sync_course.py``).

    On Colab it clones the course (library, data and checkpoints) once and puts it on ``sys.path``; Colab already has
    torch, numpy, matplotlib, ipywidgets and tqdm. Everywhere else it does nothing.
    """
    return f'''import sys

if "google.colab" in sys.modules:  # on Colab: fetch the course (library, data, checkpoints) once per session
    import os
    import subprocess

    if not os.path.isdir("/content/sdgan_course"):
        repository = "{REPOSITORY}"
        subprocess.run(["git", "clone", "--depth", "1", repository, "/content/sdgan_course"], check=True)
    sys.path.insert(0, "/content/sdgan_course")
{SETUP_MARKER}'''
