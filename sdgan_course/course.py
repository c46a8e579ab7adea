"""Facts about the course itself: where it lives and what it contains.

``REPOSITORY`` is the one place that names the course's address. A fork changes this line, then runs
``python tools/sync_course.py`` to rewrite the README's course map and every notebook's Colab cell.
"""

from __future__ import annotations

from typing import Any, NamedTuple

REPOSITORY = "https://github.com/sdgan-course/sdgan_course"
BRANCH = "main"
DATA_URL = f"{REPOSITORY.replace('github.com', 'raw.githubusercontent.com')}/{BRANCH}/data"


class Notebook(NamedTuple):
    """One entry of the course map: the minutes one run of the notebook computes (reading and exercises come on top).

    ``minutes_cpu`` is measured: the stored cpu-profile render (``tools/render_notebooks.py``, one thread, on the
    course's 2-core machine). ``minutes_gpu`` is an estimate for one Colab T4 in the gpu profile, not a measurement
    (``tools/estimate_t4.py``; ``data/checkpoints/README.md``, "Colab T4"), CPU-only parts included."""

    stem: str
    title: str
    topic: str
    minutes_cpu: int
    minutes_gpu: int


NOTEBOOKS = (
    Notebook("00_start_here", "Start here", "set-up, device and profile check, the data, the course map", 1, 1),
    Notebook("01_the_landscape", "The landscape", "GANs, VAEs, diffusion, latent diffusion; misconceptions", 1, 1),
    Notebook("02_gan_mathematics", "GAN mathematics", "value function, optimal D, JSD, saturation, mode collapse", 1, 2),
    Notebook("03_generator_and_discriminator", "Generator and discriminator", "MLP and DCGAN, shapes, receptive field, conditioning", 1, 1),
    Notebook("04_losses_and_stability", "Losses and stability", "BCE, LSGAN, hinge, WGAN(-GP), R1, spectral norm, measured", 7, 15),
    Notebook("05_training_a_gan", "Training a GAN", "the full loop on Fashion-MNIST: EMA, checkpoints, conditioning", 8, 4),
    Notebook("06_evaluating_generators", "Evaluating generators", "FID, KID, precision/recall, SSIM, memorisation, two-sample tests", 1, 1),
    Notebook("07_generate_score_select", "Generate, score, select", "best-of-N, rejection sampling, latent interpolation", 2, 1),
    Notebook("08_variational_autoencoders", "Variational autoencoders", "ELBO, reparameterisation, KL, the autoencoder latent diffusion needs", 5, 20),
    Notebook("09_diffusion_from_scratch", "Diffusion from scratch (DDPM)", "forward process, schedules, noise prediction, U-Net, sampling", 21, 27),
    Notebook("10_faster_and_steerable_sampling", "Faster and steerable sampling", "DDIM, DPM-Solver++, quality vs cost, classifier-free guidance", 8, 2),
    Notebook("11_stable_diffusion_in_miniature", "Stable Diffusion in miniature", "latent diffusion with text: BPE tokens, cross-attention, prompts, SDEdit, prompt following measured; the real SD's classes, v1 to SD3", 4, 2),
    Notebook("12_gans_vs_diffusion", "GANs vs diffusion", "same data, same evaluation: quality, diversity, speed, compute; the trilemma; DALL-E, CLIP, NeRF", 2, 1),
    Notebook("13_speed_and_scale", "Speed and scale", "what limits training speed, measured; fused Adam, channels_last, autocast, compile; DDP with torchrun", 1, 2),
    Notebook("14_flow_matching_and_transformers", "Flow matching and a transformer denoiser", "the score and the probability-flow ODE, flow matching, Euler and Heun, the MMDiT: Stable Diffusion 3 in miniature", 1, 1),
    Notebook("15_adversarial_distillation", "The GAN returns: adversarial distillation", "why few steps fail, ADD's losses, a one-step student of the text-to-image model, ablations, the closing comparison", 1, 1),
)

# The rest of the arc (notebooks 08-12, planned), shown in the README's course map until each notebook lands.
PLANNED = (
)


def colab_url(stem: str) -> str:
    """The "Open in Colab" address of a notebook."""
    path = REPOSITORY.replace("https://github.com/", "")
    return f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{stem}.ipynb"


SETUP_MARKER = "# ---- end of course set-up ----"


# The Colab set-up, as it stands in every notebook (``@REPOSITORY@`` is replaced by REPOSITORY). It never shows a git
# traceback: every failure is one CourseSetupError that says what to do, and it stops "Run all" at the first cell.
_COLAB_SETUP = r"""import sys

if "google.colab" in sys.modules:  # on Colab: fetch the course (library, data, checkpoints) once per session
    import os
    import subprocess

    # The course's address. For your own copy or fork, edit it here or first run  %env SDGAN_REPOSITORY=https://...
    repository = os.environ.get("SDGAN_REPOSITORY", "@REPOSITORY@")
    # Where the course lives: cloned here, or a folder you uploaded or keep on Drive (%env SDGAN_COURSE_DIR=...)
    course_dir = os.environ.get("SDGAN_COURSE_DIR", "/content/sdgan_course")

    class CourseSetupError(RuntimeError):
        def _render_traceback_(self):  # IPython shows this message alone, without a traceback
            return ["Course set-up failed: " + str(self)]

    def git(*args, timeout=900):
        try:  # GIT_TERMINAL_PROMPT=0: a wrong or private address fails at once instead of asking for a password
            return subprocess.run(["git", *args], capture_output=True, text=True, timeout=timeout,
                                  env=dict(os.environ, GIT_TERMINAL_PROMPT="0"))
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, 1, "", f"no answer in {timeout} s (no network?)")

    if not os.path.exists(course_dir) and "SDGAN_COURSE_DIR" not in os.environ:
        print(f"Cloning the course from {repository} into {course_dir} (about 60 MB) ...")
        clone = git("clone", "--depth", "1", "--quiet", repository, course_dir)
        if clone.returncode != 0:
            raise CourseSetupError(
                f"could not clone {repository}\n  git says: {(clone.stderr.strip() or 'nothing').splitlines()[-1]}\n"
                "Do one of these, then run this cell again:\n"
                "  1. Your own copy or fork on GitHub: in a new cell run\n"
                "       %env SDGAN_REPOSITORY=https://github.com/YOUR_NAME/sdgan_course\n"
                "     (a private one needs a token: https://YOUR_NAME:TOKEN@github.com/YOUR_NAME/sdgan_course)\n"
                "  2. The course folder on Google Drive (for example MyDrive/sdgan_course): in a new cell run\n"
                "       from google.colab import drive; drive.mount('/content/drive')\n"
                "       %env SDGAN_COURSE_DIR=/content/drive/MyDrive/sdgan_course\n"
                "  3. Upload it: zip the course folder, drop the .zip on the Files panel (folder icon, left) and run\n"
                "       !unzip -q /content/sdgan_course.zip -d /content\n"
                "     and, if that made another folder than /content/sdgan_course (GitHub's 'Download ZIP' makes\n"
                "     sdgan_course-main),  %env SDGAN_COURSE_DIR=/content/sdgan_course-main")
    elif os.path.isdir(os.path.join(course_dir, ".git")):  # cloned earlier in this session: is it still current?
        origin = git("-C", course_dir, "remote", "get-url", "origin").stdout.strip()
        head = git("-C", course_dir, "rev-parse", "HEAD").stdout.strip()
        latest = git("ls-remote", origin, "HEAD", timeout=20).stdout[:40]
        if origin != repository or (latest and latest != head):
            why = f"a clone of {origin}" if origin != repository else f"older than {repository} ({latest[:7]})"
            print(f"Note: {course_dir} (cloned earlier, at {head[:7]}) is {why}. To start afresh: run  "
                  f"!rm -rf {course_dir}  then Runtime → Restart session, and run this cell again.")
    if not os.path.isfile(os.path.join(course_dir, "sdgan_course", "__init__.py")):
        raise CourseSetupError(
            f"{course_dir} does not hold the course (no sdgan_course/__init__.py in it).\n"
            "  Is Google Drive mounted, or is the folder one level deeper? Point SDGAN_COURSE_DIR at the folder\n"
            f"  that holds sdgan_course/ and data/, or remove it (!rm -rf {course_dir}) to clone afresh; then run\n"
            "  this cell again.")
    if course_dir not in sys.path:
        sys.path.insert(0, course_dir)
"""


def colab_setup_source() -> str:
    """The canonical opening of every notebook's first code cell (kept in sync by ``tools/sync_course.py``).

    On Colab it finds the course (library, data and checkpoints) and puts it on ``sys.path``: a folder named by
    ``SDGAN_COURSE_DIR`` (uploaded, or on Google Drive), else a clone of ``SDGAN_REPOSITORY`` (default ``REPOSITORY``)
    made once per session in ``/content/sdgan_course``. A clone left from earlier that is no longer current is
    reported; a failure stops the cell with one message that says what to do. Colab already has torch, numpy,
    matplotlib, ipywidgets and tqdm. Everywhere else it does nothing.
    """
    return _COLAB_SETUP.replace("@REPOSITORY@", REPOSITORY) + SETUP_MARKER


# ---- claims: a sentence about this run's numbers, checked by the run ----------------------------------------------

# The MIME type of a claim's output. Front ends that do not know it show the text/plain beside it; the render tool
# (tools/render_notebooks.py) reads it to fail a cpu-profile render whose claim no longer holds.
CLAIM_MIME = "application/vnd.sdgan-course.claim+json"


def claim(statement: str, holds: Any, evidence: str = "") -> None:
    """Show a sentence that reports what this run measured, with ✓ if the run's numbers support it and ✗ if not.

    A notebook's markdown may explain and cite; a sentence about *its own run* ("the DDPM's recall beats the cGAN's",
    "the error falls about four times") is checked where the numbers are made::

        claim("the DDPM's recall beats the cGAN's", ddpm.recall > cgan.recall,
              f"{ddpm.recall:.3f} vs {cgan.recall:.3f}")

    prints ``✓ claim: the DDPM's recall beats the cGAN's (0.656 vs 0.605)``. It never raises: on a learner's machine a
    ✗ is information (the numbers moved). ``tools/render_notebooks.py`` fails a cpu-profile render with any ✗, so the
    stored outputs a reader sees never contradict their own text. ``holds`` may be a bool, a 0-d tensor or a numpy
    bool; ``evidence`` is the numbers, shown in brackets. It returns nothing, so a cell that ends with a claim shows
    the claim alone (not a stray ``True``).
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("claim() needs the sentence it checks as its first argument, for example "
                         "claim('the DDPM beats the cGAN on recall', ddpm.recall > cgan.recall).")
    try:
        ok = bool(holds)
    except (TypeError, RuntimeError, ValueError) as err:  # e.g. a tensor with several elements
        raise TypeError(f"claim({statement!r}, ...): the second argument must be one true-or-false value, got "
                        f"{type(holds).__name__} ({err}); combine several with all(...) or .all().") from None
    text = f"{'✓' if ok else '✗'} claim: {statement}" + (f" ({evidence})" if evidence else "")
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: just print
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display({"text/plain": text, CLAIM_MIME: {"statement": statement, "holds": ok, "evidence": evidence}},
                raw=True)
