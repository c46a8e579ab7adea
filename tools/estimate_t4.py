"""A Colab T4 estimate per model and per notebook (time and memory), from counts made on this CPU: an ESTIMATE.

No GPU was used. Method (sdgan_course/gpu_estimate.py): each training step or forward pass runs once here under a
counting dispatch mode (FLOPs, operations ~ kernel launches, bytes moved, bytes saved for backward, state); a device
is its matmul rate, bandwidth and per-operation overhead; the step time is the per-operation roofline plus launches.

  (a) validation: the same formula with THIS CPU's measured figures (gpu_estimate.cpu_spec) against bench_step's
      measured CPU time, at the same (small) batch, one thread;
  (b) per model: the T4 estimate at the gpu profile's batch (images/s, peak memory);
  (c) per notebook: the gpu profile's work (INVENTORY below) summed: minutes and the peak memory.

    python tools/estimate_t4.py            # prints the tables, writes data/checkpoints/t4_estimate.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

from sdgan_course.bench import bench_step  # noqa: E402
from sdgan_course.gpu_estimate import (  # noqa: E402
    BANDWIDTH_SHARE,
    CUDA_CONTEXT_BYTES,
    CUDA_LAUNCH_S,
    TENSOR_SHARE,
    count_step,
    cpu_spec,
    estimate_memory_bytes,
    estimate_step_seconds,
    t4_spec,
)

# ---------------------------------------------------------------- the workloads: the course's own steps


def _ema(run_ema, model):
    return lambda: run_ema.update(model)  # the training loop updates the EMA after every step


def gan(batch, profile="gpu", **step):
    """gan_train_step + the EMA update (GANRun, train_gan); step: GANStepConfig fields (nb04's losses)."""
    from sdgan_course.models.gan import GANConfig
    from sdgan_course.train.gan import GANRun, GANStepConfig, GANTrainConfig, gan_train_step

    cfg = GANConfig.preset(profile)
    if step:
        cfg = cfg.replace(d_norm="none")  # nb04: per-sample penalties, no batch norm
    run = GANRun(cfg, GANTrainConfig.preset(profile, batch_size=batch))
    real = torch.rand(batch, 1, 28, 28) * 2 - 1  # (B, 1, 28, 28)
    step_cfg, ema = GANStepConfig(**step), _ema(run.ema, run.generator)

    def fn():
        gan_train_step(run.generator, run.discriminator, run.opt_g, run.opt_d, real, z_dim=cfg.z_dim,
                       config=step_cfg, rng=run.rng, amp=True)
        ema()
    return fn, [run.generator, run.discriminator, run.ema.model], [run.opt_g, run.opt_d]


def classifier(batch, profile="gpu"):
    """train_classifier's step: cross-entropy, AdamW (the augmentation, on the CPU, left out)."""
    from sdgan_course.models.classifier import CourseClassifier

    torch.manual_seed(0)
    model = CourseClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    x, y = torch.rand(batch, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (batch,))

    def fn():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return fn, [model], [opt]


def vae(batch, profile="gpu"):
    from sdgan_course.models.vae import VAEConfig
    from sdgan_course.train.vae import VAERun, VAETrainConfig, vae_train_step

    run = VAERun(VAEConfig.preset(profile), VAETrainConfig.preset(profile, batch_size=batch))
    x = torch.rand(batch, 1, 28, 28) * 2 - 1
    return (lambda: vae_train_step(run.model, run.opt, x, rng=run.rng)), [run.model], [run.opt]


def autoencoder(batch, profile="gpu"):
    """autoencoder_train_step with the adversarial term on (step >= disc_start: the dearer half of a run)."""
    from sdgan_course.losses.vae import ClassifierPerceptualLoss
    from sdgan_course.models.classifier import CourseClassifier
    from sdgan_course.models.vae import AutoencoderConfig
    from sdgan_course.train.vae import AutoencoderRun, AutoencoderTrainConfig, autoencoder_train_step

    cfg = AutoencoderTrainConfig.preset(profile, batch_size=batch)
    run = AutoencoderRun(AutoencoderConfig.preset(profile), cfg)
    perceptual = ClassifierPerceptualLoss(CourseClassifier().eval())
    x = torch.rand(batch, 1, 28, 28) * 2 - 1

    def fn():
        autoencoder_train_step(run.model, run.opt, x, perceptual=perceptual, discriminator=run.discriminator,
                               opt_d=run.opt_d, step=cfg.disc_start, disc_start=cfg.disc_start, rng=run.rng)
    return fn, [run.model, run.discriminator, perceptual], [run.opt, run.opt_d]


def ddpm(batch, profile="gpu"):
    """diffusion_train_step (labels, 10 % dropped) + the EMA update, as train_diffusion."""
    from sdgan_course.models.unet import UNetConfig
    from sdgan_course.train.diffusion import DiffusionRun, DiffusionTrainConfig, diffusion_train_step

    run = DiffusionRun(UNetConfig.preset(profile, num_classes=10), DiffusionTrainConfig.preset(profile,
                                                                                            batch_size=batch))
    x, y = torch.rand(batch, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (batch,))
    ema = _ema(run.ema, run.model)

    def fn():
        diffusion_train_step(run.model, run.opt, x, run.schedule, labels=y, p_uncond=0.1, rng=run.rng, amp=True)
        ema()
    return fn, [run.model, run.ema.model], [run.opt]


def clip(batch, profile="gpu"):
    """clip_train_step on captioned singles and 25 % two-item compositions, as train_clip."""
    from sdgan_course.data.captions import caption_labels, compose_pairs
    from sdgan_course.models.text_encoder import CLIPConfig
    from sdgan_course.train.clip import CLIPRun, CLIPTrainConfig, clip_train_step, pair_group_ids

    cfg = CLIPTrainConfig.preset(profile, batch_size=batch)
    run = CLIPRun(CLIPConfig.preset(profile), cfg)
    num_pairs = round(cfg.pair_fraction * batch)
    rng = torch.Generator().manual_seed(0)
    x, y = torch.rand(batch - num_pairs, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (batch - num_pairs,))
    captions, _ = caption_labels(y, rng=rng)
    pairs = compose_pairs(x, y, num_pairs, rng=rng)

    def fn():
        clip_train_step(run.model, run.opt, x, captions, y, pair_images=pairs.images, pair_captions=pairs.captions,
                        pair_groups=pair_group_ids(pairs.labels, 10))
    return fn, [run.model], [run.opt]


def ldm(batch, profile="gpu", tokens=16, context_dim=64):
    """ldm_train_step on latents (4, 7, 7) and a caption context (L, E) of the shipped CLIP's width + the EMA update
    (the latents and captions are encoded once before training, as the ``bench ldm`` command says)."""
    from sdgan_course.models.unet import UNet
    from sdgan_course.train.ldm import LDMTrainConfig, ldm_train_step, ldm_unet_config
    from sdgan_course.train.loop import EMA

    torch.manual_seed(0)
    model = UNet(ldm_unet_config(profile, context_dim))
    ema_model = EMA(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    schedule = LDMTrainConfig.preset(profile).make_schedule()
    z = torch.randn(batch, 4, 7, 7)  # (B, 4, 7, 7)
    context = torch.randn(batch, tokens, context_dim)  # (B, L, E)
    mask = torch.ones(batch, tokens, dtype=torch.bool)  # (B, L)
    rng, ema = torch.Generator().manual_seed(0), _ema(ema_model, model)

    def fn():
        ldm_train_step(model, opt, z, context, mask, schedule, rng=rng, amp=True)
        ema()
    return fn, [model, ema_model.model], [opt]


def forward(kind, profile="cpu"):
    """A network evaluation without gradients (sampling, features); returns (fn(batch), modules)."""
    from sdgan_course.models.classifier import CourseClassifier
    from sdgan_course.models.gan import GANConfig, build_gan
    from sdgan_course.models.unet import UNet, UNetConfig
    from sdgan_course.models.vae import AutoencoderConfig, KLAutoencoder
    from sdgan_course.train.ldm import ldm_unet_config

    torch.manual_seed(0)
    if kind == "unet":  # the shipped DDPM is the cpu preset; notebook 09's own run and 12's the gpu one
        net = UNet(UNetConfig.preset(profile, num_classes=10)).eval()
        return (lambda b: net(torch.randn(b, 1, 28, 28), torch.randint(0, 1000, (b,)),
                              labels=torch.randint(0, 11, (b,)))), [net]
    if kind == "latent_unet":  # the shipped latent U-Net (cpu preset), 16 tokens of the shipped CLIP's width 64
        net = UNet(ldm_unet_config(profile, 64)).eval()
        return (lambda b: net(torch.randn(b, 4, 7, 7), torch.randint(0, 1000, (b,)), context=torch.randn(b, 16, 64),
                              context_mask=torch.ones(b, 16, dtype=torch.bool))), [net]
    if kind in ("generator", "discriminator"):
        g, d = (m.eval() for m in build_gan(GANConfig.preset(profile)))
        z_dim = GANConfig.preset(profile).z_dim
        if kind == "generator":
            return (lambda b: g(torch.randn(b, z_dim))), [g]
        return (lambda b: d(torch.rand(b, 1, 28, 28))), [d]
    if kind == "classifier":
        net = CourseClassifier().eval()
        return (lambda b: net.features_and_logits(torch.rand(b, 1, 28, 28))), [net]
    ae = KLAutoencoder(config=AutoencoderConfig.preset(profile)).eval()
    if kind == "encoder":
        return (lambda b: ae.encode(torch.rand(b, 1, 28, 28))), [ae]
    return (lambda b: ae.decode(torch.randn(b, 4, 7, 7))), [ae]


TRAIN_STEPS = {"gan": gan, "classifier": classifier, "vae": vae, "autoencoder": autoencoder, "ddpm": ddpm,
               "clip": clip, "ldm": ldm}
# gpu-profile batches: GAN/DIFFUSION/VAE/AUTOENCODER/CLIP/LDM_TRAIN_PRESETS["gpu"]; the classifier's
# TrainClassifierConfig.batch_size (one size in every profile)
GPU_BATCH = {"gan": 256, "classifier": 128, "vae": 256, "autoencoder": 128, "ddpm": 256, "clip": 512, "ldm": 256}
CPU_CHECK_BATCH = {"gan": 64, "classifier": 128, "vae": 256, "autoencoder": 16, "ddpm": 16, "clip": 64, "ldm": 32}

# ---------------------------------------------------------------- the gpu profile's work, per notebook
# One row: (notebook, workload, batch, calls, where, source). workload: a TRAIN_STEPS name, optionally "name@profile"
# (default gpu) and ":wgan-gp" (n_critic 5, gp_weight 10); or "fwd:<kind>@<profile>" (a no-grad evaluation); or
# "wall" (a fixed number of seconds: calls is the seconds); "none" (nothing to estimate); "toy" (not estimated).
# where: "t4", or "cpu" for code the notebook pins to the CPU in every profile (estimated with this CPU's measured
# figures, one thread, as a stand-in for Colab's 2 vCPUs).
INVENTORY = [
    ("00", "none", 0, 0, "t4", "loads the data, draws toy samples: no network is trained or evaluated"),
    ("01", "none", 0, 0, "cpu", "'this notebook computes on the CPU': a few steps of tiny MLPs (BATCH 256)"),
    # 02: TOY_DEVICE = cpu in every profile: 1-D/2-D toy MLPs (SIZES fit_steps/toy_steps 2000, RING_PRESETS gpu 3000)
    ("02", "toy", 0, 0, "cpu", "toy MLPs on the CPU (not estimated: the course map's cpu column)"),
    ("03", "gan@cpu", 64, 400, "t4", "SIZES gpu patch_steps 400, patch_batch 64 (a patch D; a GAN step bounds it)"),
    ("03", "fwd:generator@gpu", 64, 10, "t4", "n_show 64 samples, a few untrained generators"),
    # 04: the ring GANs (8 setups x 3 seeds x 3000 steps) run train_ring_gan on the CPU; the image GANs on DEVICE
    ("04", "gan", 128, 6 * 1500, "t4", "IMAGE_SETUPS minimax/ns/lsgan/hinge/R1/SN: 1500 steps, batch 128"),
    ("04", "gan:wgan-gp", 128, 2 * 1500, "t4", "wgan (clip) and wgan-gp: n_critic 5 (wgan-gp bounds both)"),
    ("04", "fwd:generator@gpu", 1000, 8 * 2, "t4", "eval_n 2000 samples per setup"),
    ("04", "fwd:classifier@cpu", 500, 8 * 4 + 8, "t4", "features of 2000 samples per setup, real sets"),
    ("05", "gan", 256, 20_000, "t4", "GAN_TRAIN_PRESETS gpu: 20,000 steps, batch 256"),
    ("05", "gan", 256, 2 * 20, "t4", "the resume check: two short continuations"),
    ("05", "fwd:generator@cpu", 100, 20, "t4", "live view every 2,000 steps, samples of the shipped GANs"),
    ("06", "fwd:classifier@cpu", 500, 4 * 4 + 2 * 20, "t4", "N 2000 x 4 FAKES; pools of NS max 10,000 (+ blurred)"),
    ("06", "classifier@cpu", 64, 4 * 800, "t4", "C2ST STEPS 800 per fake set, batch 64 (width 32 bounds width 8)"),
    ("07", "gan@cpu", 64, 1000, "t4", "CAL_STEPS 1000 steps of D on 64 + 64 (a GAN step bounds it)"),
    ("07", "fwd:generator@cpu", 1000, 5 * (1 + 4 + 16 + 2), "t4", "N 5000: random, best-of-4, best-of-16, DRS"),
    ("07", "fwd:discriminator@cpu", 1000, 5 * (1 + 4 + 16 + 2) + 5, "t4", "D's logit of every candidate"),
    ("07", "fwd:classifier@cpu", 500, 10 * 7, "t4", "score_samples of about 7 sets of 5000"),
    ("08", "vae", 256, 10_000 + 3 * 4_000, "cpu", "DEVICE = cpu: vae_steps 10,000 + 3 betas x beta_steps 4,000"),
    ("09", "ddpm", 256, 5_000, "t4", "SIZES gpu live_steps 5,000; DIFFUSION_TRAIN_PRESETS gpu batch 256"),
    ("09", "fwd:unet@gpu", 16, 1_000, "t4", "16 samples of the notebook's run, steps 1000"),
    ("09", "fwd:unet@cpu", 16, 1_000 + 2 * 1_000, "t4", "4 counted calls, n_var 16 x 2 variances (shipped DDPM)"),
    ("09", "fwd:unet@cpu", 100, 1_000, "t4", "per_class 10 x 10 classes, 1000 ddpm steps"),
    ("09", "fwd:unet@cpu", 512, 20, "t4", "loss_images 512 at t_points 20"),
    ("10", "fwd:unet@cpu", 2000, 1480, "t4", "live_grid gpu: 1480 steps at n_live 1000, guidance 2 (batch 2 x 1000)"),
    ("10", "fwd:unet@cpu", 2000, 5 * 15, "t4", "guidance sweep: scales 1.5..8 x scale_steps 15"),
    ("10", "fwd:unet@cpu", 1000, 2 * 15, "t4", "guidance sweep: scales 0 and 1 (one branch)"),
    ("10", "fwd:unet@cpu", 64, 2 * 385, "t4", "invert_n 64: DDIM inversion + reconstruction, invert_steps sum 385"),
    ("10", "fwd:unet@cpu", 40, 20 * 15, "t4", "demo grids (grid 10, demo_steps 20, guided)"),
    ("10", "fwd:classifier@cpu", 500, 2 * 18, "t4", "features of 18 rows of 1000"),
    ("11", "fwd:encoder@cpu", 500, 120 + 120, "t4", "prepare_ldm_data: 60,000 images + 30,000 pairs (2 images each)"),
    ("11", "ldm@cpu", 128, 2_000, "t4", "SIZE gpu train_steps 2,000 of the cpu-size latent U-Net, batch 128"),
    ("11", "fwd:latent_unet@cpu", 400, 20 * (10 + 10 + 1), "t4", "n_live 2000, per_pair 50 x 20 (2x wide), grid 100"),
    ("11", "fwd:latent_unet@cpu", 12, 20 * 10, "t4", "guidance rows, image-to-image, attention maps, widgets"),
    ("11", "fwd:decoder@cpu", 200, 20, "t4", "decode about 4,000 latents"),
    ("12", "fwd:unet@cpu", 2000, 2 * 10, "t4", "shipped DDPM, n_live 2000, dpm-solver 10 steps, guidance 2"),
    ("12", "fwd:latent_unet@cpu", 400, 10 * 20, "t4", "shipped latent model, 2000 samples, 20 steps, guidance 3"),
    ("12", "fwd:latent_unet@cpu", 400, 5 * 20, "t4", "the same without guidance (one call per step), section 3"),
    ("12", "fwd:generator@cpu", 1000, 2 * 2, "t4", "GAN and cGAN, 2000 samples each"),
    ("12", "fwd:classifier@cpu", 500, 4 * 6, "t4", "score_samples of about 6 sets of 2000 (4 models, unguided, real)"),
    ("13", "gan", 32, 22, "t4", "SIZE gpu batches [32, 128, 512, 2048] x (steps 20 + count + warm-up)"),
    ("13", "gan", 128, 22, "t4", ""), ("13", "gan", 512, 22, "t4", ""), ("13", "gan", 2048, 22, "t4", ""),
    ("13", "ddpm", 256, 3 * 22, "t4", "unet_batch 256: plain, channels_last, compiled (compile time not estimated)"),
    ("14", "toy", 0, 0, "cpu", "not estimated yet: the MMDiT is not in TRAIN_STEPS; the toy flows run on the CPU "
                               "(the course map's gpu column repeats the cpu render's minutes)"),
    ("15", "toy", 0, 0, "cpu", "not estimated yet: the ADD step is not in TRAIN_STEPS (the course map's gpu column "
                               "repeats the cpu render's minutes)"),
]


_COUNTS: dict = {}


def counts_for(workload: str, batch: int, forward_base: int = 50):
    """The StepCounts of one call at ``batch``, memoised. A forward pass is counted at ``forward_base`` images and
    scaled to ``batch`` (exact for these eval-mode networks: every operation is per image; the kernel count does not
    grow with the batch); a training step is counted at its own batch."""
    key = (workload, batch)
    if key not in _COUNTS:
        torch.manual_seed(0)
        head, _, loss = workload.partition(":")
        if head.startswith("fwd"):
            kind, _, profile = head[4:].partition("@")
            fn, modules = forward(kind, profile or "cpu")
            b0 = min(batch, forward_base)
            with torch.no_grad():
                fn(b0)
                c = count_step(lambda: fn(b0), modules=modules)
            f = batch / b0
            c = c._replace(flops=round(c.flops * f), bytes_moved=round(c.bytes_moved * f),
                           max_op_bytes=round(c.max_op_bytes * f), op_flops=tuple(round(v * f) for v in c.op_flops),
                           op_bytes=tuple(round(v * f) for v in c.op_bytes))
        else:
            name, _, profile = head.partition("@")
            step = dict(loss=loss, n_critic=5, gp_weight=10.0) if loss else {}
            fn, modules, opts = TRAIN_STEPS[name](batch, profile or "gpu", **step)
            fn()  # the optimiser state exists from the first step on
            c = count_step(fn, modules=modules, optimizers=opts)
        _COUNTS[key] = c
    return _COUNTS[key]


def validate(spec, steps=3):
    rows = []
    for name, step_of in TRAIN_STEPS.items():
        b = CPU_CHECK_BATCH[name]
        c = counts_for(name, b)
        fn, _, _ = step_of(b)
        measured = bench_step(fn, batch_size=b, steps=steps, device="cpu", warmup=1).step_ms
        est = estimate_step_seconds(c, spec)
        rows.append(dict(model=name, batch=b, gflop_per_step=c.flops / 1e9, launches_per_step=c.kernels,
                         views_per_step=c.views, mb_moved_per_step=c.bytes_moved / 1e6,
                         predicted_cpu_ms=1e3 * est.seconds, measured_cpu_ms=measured,
                         ratio_predicted_over_measured=1e3 * est.seconds / measured))
    return rows


def per_model(t4):
    rows = []
    for name, b in GPU_BATCH.items():
        c = counts_for(name, b)
        est = estimate_step_seconds(c, t4)
        rows.append(dict(model=name, batch=b, estimate_ms_per_step=1e3 * est.seconds,
                         estimate_ms_if_overlapped=1e3 * est.overlapped_s,
                         estimate_launch_share=est.launch_s / est.seconds,
                         estimate_images_per_s=b / est.seconds, estimate_peak_gb=estimate_memory_bytes(c) / 1e9,
                         gflop_per_step=c.flops / 1e9, launches_per_step=c.kernels))
    return rows


def per_notebook(t4, host):
    from sdgan_course.course import NOTEBOOKS

    out = []
    for nb in NOTEBOOKS:
        number = nb.stem[:2]
        rows = [r for r in INVENTORY if r[0] == number]
        t4_s = cpu_s = 0.0
        peak, peak_by, unestimated = 0.0, "-", []
        for _, workload, batch, calls, where, note in rows:
            if workload == "wall":
                t4_s += calls
                continue
            if workload == "none":
                continue
            if workload == "toy":
                unestimated.append(note)
                continue
            c = counts_for(workload, batch)
            seconds = calls * estimate_step_seconds(c, t4 if where == "t4" else host).seconds
            if where == "t4":
                t4_s += seconds
                mem = estimate_memory_bytes(c)
                if mem > peak:
                    peak, peak_by = mem, f"{workload} @ {batch}"
            else:
                cpu_s += seconds
        out.append(dict(notebook=number, course_map_gpu_minutes=nb.minutes_gpu, estimate_t4_minutes=t4_s / 60,
                        estimate_colab_cpu_minutes=cpu_s / 60, estimate_peak_gb=peak / 1e9 if peak else None,
                        peak_set_by=peak_by, not_estimated=unestimated))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "data" / "checkpoints" / "t4_estimate.json")
    p.add_argument("--steps", type=int, default=3, help="timed CPU steps per model in the validation")
    args = p.parse_args()
    torch.set_num_threads(1)
    host = cpu_spec()
    t4 = t4_spec(host)
    print(f"this CPU, measured: matmul {host.matmul_flops / 1e9:.1f} GFLOP/s, copy {host.bandwidth / 1e9:.1f} GB/s, "
          f"{1e6 * host.launch_s:.2f} us per operation, {1e6 * host.view_s:.2f} us per view (1 thread)")
    print(f"T4 ESTIMATE inputs: {t4.matmul_flops / 1e12:.2f} TFLOP/s ({TENSOR_SHARE:.0%} of the 65 TFLOPS fp16 "
          f"peak), {t4.bandwidth / 1e9:.0f} GB/s ({BANDWIDTH_SHARE:.0%} of 320), {1e6 * t4.launch_s:.1f} us per "
          f"kernel ({1e6 * CUDA_LAUNCH_S:.0f} launch + host dispatch), context {CUDA_CONTEXT_BYTES / 2**20:.0f} MB\n")

    val = validate(host, args.steps)
    print("(a) validation on this CPU: predicted (the model, measured CPU figures) vs measured (bench_step)")
    print(f"{'model':<12}{'batch':>6}{'GFLOP/step':>11}{'launches':>9}{'MB moved':>9}{'pred ms':>9}{'meas ms':>9}"
          f"{'ratio':>7}")
    for r in val:
        print(f"{r['model']:<12}{r['batch']:>6}{r['gflop_per_step']:>11.2f}{r['launches_per_step']:>9}"
              f"{r['mb_moved_per_step']:>9.0f}{r['predicted_cpu_ms']:>9.1f}{r['measured_cpu_ms']:>9.1f}"
              f"{r['ratio_predicted_over_measured']:>7.2f}")

    models = per_model(t4)
    print("\n(b) Colab T4 ESTIMATE per model, gpu-profile batch (not measured)")
    print(f"{'model':<12}{'batch':>6}{'est. ms/step':>13}{'(overlapped)':>13}{'launch share':>13}"
          f"{'est. images/s':>14}{'est. peak GB':>13}")
    for r in models:
        print(f"{r['model']:<12}{r['batch']:>6}{r['estimate_ms_per_step']:>13.1f}{r['estimate_ms_if_overlapped']:>13.1f}"
              f"{r['estimate_launch_share']:>13.0%}{r['estimate_images_per_s']:>14,.0f}{r['estimate_peak_gb']:>13.2f}")

    books = per_notebook(t4, host)
    print("\n(c) Colab T4 ESTIMATE per notebook, gpu profile (not measured)")
    print(f"{'nb':<4}{'map gpu min':>12}{'est. T4 min':>12}{'est. CPU min':>13}{'est. peak GB':>13}  peak set by")
    for r in books:
        peak = f"{r['estimate_peak_gb']:.2f}" if r["estimate_peak_gb"] else "-"
        extra = "  (+ " + "; ".join(r["not_estimated"]) + ")" if r["not_estimated"] else ""
        print(f"{r['notebook']:<4}{r['course_map_gpu_minutes']:>12}{r['estimate_t4_minutes']:>12.1f}{r['estimate_colab_cpu_minutes']:>13.1f}"
              f"{peak:>13}  {r['peak_set_by']}{extra}")

    record = {
        "what": "Colab T4 estimate (NOT a measurement): counts made on a CPU + NVIDIA's published T4 figures",
        "command": "python tools/estimate_t4.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "estimate_inputs": dict(host_cpu_measured=host._asdict(), t4_estimate_spec=t4._asdict(),
                                tensor_share=TENSOR_SHARE, bandwidth_share=BANDWIDTH_SHARE,
                                cuda_launch_s=CUDA_LAUNCH_S, cuda_context_bytes=CUDA_CONTEXT_BYTES),
        "validation_cpu_predicted_vs_measured": val,
        "t4_estimate_per_model": models,
        "t4_estimate_per_notebook": books,
    }
    args.out.write_text(json.dumps(record, indent=1, default=lambda v: None if isinstance(v, float) and
                                   math.isnan(v) else v) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
