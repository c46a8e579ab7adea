#!/usr/bin/env python
"""A prepared check of the course on a CUDA GPU, at most about 10 minutes: what the ``gpu`` profile runs, run once.

    python tools/gpu_check.py              # on a CUDA machine (exit status 1 if any part failed)
    python tools/gpu_check.py --dry-run    # the same code paths on the CPU, tiny sizes, a few steps (under a minute)

Three parts, in this order (the most important first, so a time limit cuts the least important):

1. **training**: each family through the library's own train function (``train_gan``, ``train_diffusion``,
   ``train_ldm``, ``train_vae``, ``train_clip``) at gpu-profile sizes for ``--steps`` steps, with mixed precision:
   fp16 with loss scaling (``$SDGAN_AMP_DTYPE=float16``: the path of Colab's T4) and bf16 where the GPU has it
   (compute capability 8 and later). VAE and CLIP train in float32 (the library gives them no mixed precision).
   A part fails on an exception, a NaN/inf loss (the loop's divergence guard) or an fp16 run whose scaler skipped
   more than half its steps.
2. **benches**: ``python -m sdgan_course bench gan|ddpm|ldm --profile gpu``, in this process.
3. **notebooks**: the first code cells of every notebook on the device, in one fresh process, with
   ``SDGAN_PROFILE=ci`` (imports, device, sizes, and the first cell of real work). Packages the machine lacks and
   only the notebook front end needs (ipywidgets, IPython) are replaced by inert stubs, and said so.

Each part prints images/s and peak memory (``torch.cuda.max_memory_allocated``; not measured on the CPU) beside the
Colab T4 *estimate* of ``data/checkpoints/t4_estimate.json`` (``sdgan_course/gpu_estimate.py``, at that file's
batch), then a summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

import torch  # noqa: E402

from sdgan_course.data import load_images  # noqa: E402
from sdgan_course.device import AMP_DTYPE_ENV  # noqa: E402

FAMILIES = ("gan", "ddpm", "ldm", "vae", "clip")
AMP_FAMILIES = ("gan", "ddpm", "ldm")  # the families whose train steps autocast (train.loop.MixedPrecision)
BENCHES = {  # gpu-profile benches, and their dry-run arguments
    "gan": (["--profile", "gpu"], ["--profile", "ci", "--steps", "1", "--batch-size", "8"]),
    "ddpm": (["--profile", "gpu"], ["--profile", "ci", "--steps", "1", "--batch-size", "8", "--n", "1",
                                    "--guidance", "1", "--ddpm-steps", "2"]),
    "ldm": (["--profile", "gpu"], ["--profile", "ci", "--steps", "1", "--batch-size", "8"]),
}
STUBBED = ("ipywidgets", "IPython", "IPython.display")


# ---------------------------------------------------------------- measuring


def t4_estimates() -> dict:
    """model -> (images/s, peak GB, batch) of the stored Colab T4 estimate."""
    path = ROOT / "data" / "checkpoints" / "t4_estimate.json"
    if not path.exists():
        return {}
    rows = json.loads(path.read_text()).get("t4_estimate_per_model", [])
    return {r["model"]: (r["estimate_images_per_s"], r["estimate_peak_gb"], r["batch"]) for r in rows}


def measured(fn, device: torch.device):
    """Run ``fn()``; return (its result, seconds, peak MB on CUDA or NaN)."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    out = fn()
    if cuda:
        torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else float("nan")
    return out, time.perf_counter() - start, peak


def precisions(device: torch.device) -> list[str]:
    if device.type != "cuda":
        return ["amp, a no-op on the cpu"]
    major, _ = torch.cuda.get_device_capability(device)
    return ["fp16+scaler", "bf16"] if major >= 8 else ["fp16+scaler"]


@contextlib.contextmanager
def amp_dtype_forced(precision: str):
    """Force the autocast dtype of the library (``$SDGAN_AMP_DTYPE``) for one run."""
    old = os.environ.get(AMP_DTYPE_ENV)
    forced = {"fp16+scaler": "float16", "bf16": "bfloat16"}.get(precision)
    if forced:
        os.environ[AMP_DTYPE_ENV] = forced
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(AMP_DTYPE_ENV, None)
        else:
            os.environ[AMP_DTYPE_ENV] = old


# ---------------------------------------------------------------- part 1: each family through its train function


def train_family(name: str, profile: str, steps: int, device: torch.device, data, amp: bool, **sizes):
    """Build a fresh run of ``name`` at ``profile`` sizes and train it ``steps`` steps with the library's own train
    function. Returns (result with images_per_second-like third field, run, the optimisers whose steps autocast)."""
    images, labels = data.images, data.labels
    if name == "gan":
        from sdgan_course.models.gan import GANConfig
        from sdgan_course.train.gan import GANRun, GANTrainConfig, train_gan

        cfg = GANTrainConfig.preset(profile, steps=steps, amp=amp, **sizes)
        run = GANRun(GANConfig.preset(profile), cfg, device=device)
        return train_gan(run, images, steps=steps, progress=False), run, [run.opt_d, run.opt_g]
    if name == "ddpm":
        from sdgan_course.models.unet import UNetConfig
        from sdgan_course.train.diffusion import DiffusionRun, DiffusionTrainConfig, train_diffusion

        run = DiffusionRun(UNetConfig.preset(profile, num_classes=10),
                           DiffusionTrainConfig.preset(profile, steps=steps, amp=amp, **sizes), device=device)
        return train_diffusion(run, images, labels, steps=steps, progress=False), run, [run.opt]
    if name == "ldm":
        from sdgan_course.train.ldm import (
            LDMRun,
            LDMTrainConfig,
            ldm_unet_config,
            prepare_ldm_data,
            shipped_frozen_parts,
            train_ldm,
        )

        clip_state, ae_state = shipped_frozen_parts(device)
        unet = ldm_unet_config(profile, context_dim=clip_state["config"]["width"],
                               latent_channels=ae_state["config"]["latent_channels"])
        run = LDMRun(unet, LDMTrainConfig.preset(profile, steps=steps, amp=amp, **sizes), clip_state=clip_state,
                     autoencoder_state=ae_state, device=device)
        ldm_data = prepare_ldm_data(run, images, labels)
        return train_ldm(run, ldm_data, steps=steps, progress=False), run, [run.opt]
    if name == "vae":
        from sdgan_course.models.vae import VAEConfig
        from sdgan_course.train.vae import VAERun, VAETrainConfig, train_vae

        run = VAERun(VAEConfig.preset(profile), VAETrainConfig.preset(profile, steps=steps, **sizes), device=device)
        return train_vae(run, images, steps=steps, progress=False), run, []
    if name == "clip":
        from sdgan_course.models.text_encoder import CLIPConfig
        from sdgan_course.train.clip import CLIPRun, CLIPTrainConfig, train_clip

        run = CLIPRun(CLIPConfig.preset(profile), CLIPTrainConfig.preset(profile, steps=steps, **sizes), device=device)
        return train_clip(run, images, labels, steps=steps, progress=False), run, []
    raise ValueError(f"Unknown family {name!r}.")


def check_training(name: str, precision: str, args, device, data, t4) -> dict:
    from sdgan_course.train.loop import _PRECISION  # each optimiser's MixedPrecision, as its steps made it

    amp = name in AMP_FAMILIES
    row = {"part": f"train {name}", "precision": precision if amp else "fp32", "status": "ok", "note": ""}
    try:
        with amp_dtype_forced(precision if amp else "fp32"):
            (result, run, opts), seconds, peak = measured(
                lambda: train_family(name, args.profile, args.steps, device, data, amp, **args.sizes), device)
        losses = {k: v[-1] for k, v in run.history.items() if k.startswith("loss") and v}  # GAN: loss_d, loss_g
        last = max(losses.values(), key=lambda v: not math.isfinite(v)) if losses else float("nan")
        row.update(images_per_s=result[2], peak_mb=peak, seconds=seconds, steps=run.step, loss=last)
        skipped = [getattr(_PRECISION.get(opt), "skipped_steps", 0) for opt in opts]
        if any(s > 0 for s in skipped):
            row["note"] += f"fp16 steps skipped by the scaler: {skipped}; "
        if run.step != args.steps:
            row.update(status="FAIL", note=row["note"] + f"stopped at step {run.step} of {args.steps}; ")
        elif not math.isfinite(last):
            row.update(status="FAIL", note=row["note"] + f"loss {last}; ")
        elif any(s > args.steps // 2 for s in skipped):
            row.update(status="FAIL", note=row["note"] + "the scaler skipped most steps: fp16 overflows; ")
    except Exception as err:  # noqa: BLE001 - every failure is reported in the summary, then the next part runs
        traceback.print_exc()
        row.update(status="FAIL", note=f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")
    if name in t4:
        row["t4"] = t4[name]
    return row


# ---------------------------------------------------------------- part 2: the benches


def check_bench(model: str, args, device) -> dict:
    from sdgan_course.cli.main import main

    argv = ["bench", model, *BENCHES[model][1 if args.dry_run else 0]]
    row = {"part": f"bench {model}", "precision": "amp" if device.type == "cuda" else "cpu", "status": "ok",
           "note": " ".join(argv[2:])}
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            rc, seconds, peak = measured(lambda: main(argv), device)
        row.update(seconds=seconds, peak_mb=peak)
        if rc != 0:
            row.update(status="FAIL", note=f"exit status {rc}")
        elif "nan" in out.getvalue().lower().split():
            row.update(status="FAIL", note="a NaN in the output")
    except BaseException as err:  # noqa: BLE001 - SystemExit included: argparse and commands may exit
        traceback.print_exc()
        row.update(status="FAIL", note=f"{type(err).__name__}: {str(err)[:160]}")
    print(out.getvalue(), flush=True)
    return row


# ---------------------------------------------------------------- part 3: the notebooks' first code cells


def _stub_missing_front_end() -> list[str]:
    """Inert modules for the notebook front end where it is not installed (a GPU machine without Jupyter)."""
    import importlib
    import types

    class Inert:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            return Inert()

        def __getattr__(self, name):
            return Inert()

    stubbed = []
    for name in STUBBED:
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__getattr__ = lambda attr: Inert  # every other name is a class that accepts anything
            sys.modules[name] = module
            stubbed.append(name)
    if "IPython" in stubbed:  # no IPython shell here: what IPython itself answers outside one (matplotlib asks)
        sys.modules["IPython"].get_ipython = lambda: None
        sys.modules["IPython"].version_info = (0, 0, 0)
    if "IPython.display" in stubbed:
        sys.modules["IPython.display"].display = lambda *objects, **kwargs: None
        sys.modules["IPython"].display = sys.modules["IPython.display"]
    return stubbed


def run_notebook_cells(cells: int) -> None:
    """Child process: exec the first ``cells`` code cells of each notebook in a fresh namespace, one JSON line each."""
    os.chdir(ROOT / "notebooks")
    stubbed = _stub_missing_front_end()
    import matplotlib

    matplotlib.use("Agg")
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"][:cells]
        namespace = {"__name__": "__main__"}
        start, error = time.perf_counter(), ""
        try:
            for cell in code:
                source = "".join(cell["source"])
                exec(compile(source, f"{path.name}", "exec"), namespace)  # noqa: S102 - the course's own notebooks
        except BaseException as err:  # noqa: BLE001 - reported, then the next notebook runs
            error = f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
        device = str(namespace.get("DEVICE", "?"))
        print("NOTEBOOK " + json.dumps({"notebook": path.stem[:2], "seconds": time.perf_counter() - start,
                                        "device": device, "error": error, "stubbed": stubbed}), flush=True)


def check_notebooks(args, device) -> list[dict]:
    cells = 1 if args.dry_run else 2
    env = {**os.environ, "SDGAN_PROFILE": "ci", "SDGAN_DEVICE": device.type, "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run([sys.executable, __file__, "--notebook-cells", str(cells)], env=env, text=True,
                              capture_output=True, timeout=args.notebook_timeout)
        output, crashed = proc.stdout, proc.returncode != 0
    except subprocess.TimeoutExpired as err:
        output, crashed = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else (err.stdout or ""), True
    rows = []
    for line in output.splitlines():
        if line.startswith("NOTEBOOK "):
            r = json.loads(line[len("NOTEBOOK "):])
            ok = not r["error"] and r["device"].startswith(device.type)
            note = r["error"] or f"DEVICE = {r['device']}, first {cells} code cell(s)"
            if r["stubbed"]:
                note += f"; stubbed: {', '.join(r['stubbed'])}"
            rows.append({"part": f"notebook {r['notebook']}", "precision": "-", "status": "ok" if ok else "FAIL",
                         "seconds": r["seconds"], "note": note})
    if crashed:
        rows.append({"part": "notebooks (process)", "precision": "-", "status": "FAIL",
                     "note": f"the process ended early or timed out after {len(rows)} notebooks"})
    return rows


# ---------------------------------------------------------------- the summary


def _fmt(value, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def summary(rows: list[dict], device: torch.device) -> str:
    head = (f"{'part':<18} {'precision':<24} {'status':<6} {'images/s':>10} {'peak MB':>9} {'seconds':>8} "
            f"{'T4 est. img/s':>13} {'T4 est. GB':>10}  note")
    lines = [f"gpu_check summary on {device} ({torch.__version__})", head, "-" * len(head)]
    for r in rows:
        t4 = r.get("t4")
        t4_rate, t4_gb = (f"{t4[0]:.0f} @{t4[2]}", f"{t4[1]:.2f}") if t4 else ("-", "-")
        lines.append(f"{r['part']:<18} {r['precision']:<24} {r['status']:<6} {_fmt(r.get('images_per_s'), '.0f'):>10} "
                     f"{_fmt(r.get('peak_mb'), '.0f'):>9} {_fmt(r.get('seconds'), '.1f'):>8} {t4_rate:>13} "
                     f"{t4_gb:>10}  {r.get('note', '')}")
    failed = sum(r["status"] == "FAIL" for r in rows)
    skipped = sum(r["status"] == "skip" for r in rows)
    lines.append(f"gpu_check: {len(rows)} parts, {failed} failed, {skipped} skipped (time budget)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="on the CPU: ci sizes, batch 8, 2 steps, first cells")
    p.add_argument("--steps", type=int, default=None, help="training steps per family and precision (300; dry: 2)")
    p.add_argument("--parts", default="train,bench,notebooks", help="which parts, comma-separated")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--budget-s", type=float, default=540.0, help="skip the remaining parts after this many seconds")
    p.add_argument("--notebook-timeout", type=float, default=None)
    p.add_argument("--notebook-cells", type=int, default=0, help=argparse.SUPPRESS)  # the child process
    args = p.parse_args(argv)
    if args.notebook_cells:
        run_notebook_cells(args.notebook_cells)
        return 0
    if args.dry_run:
        device, args.profile, limit = torch.device("cpu"), "ci", 256
    elif torch.cuda.is_available():
        device, args.profile, limit = torch.device("cuda"), "gpu", 20_000
    else:
        print("No CUDA device here: run with --dry-run for the CPU check.", file=sys.stderr)
        return 2
    args.steps = args.steps or (2 if args.dry_run else 300)
    args.sizes = {"batch_size": 8} if args.dry_run else {}  # gpu: each preset's own batch
    args.notebook_timeout = args.notebook_timeout or (120.0 if args.dry_run else 240.0)
    parts = set(args.parts.split(","))
    start, rows, t4 = time.perf_counter(), [], t4_estimates()
    print(f"gpu_check: {'DRY RUN on the cpu' if args.dry_run else torch.cuda.get_device_name(device)}, profile "
          f"{args.profile}, {args.steps} steps per run", flush=True)

    def out_of_time(part: str, precision: str = "-") -> bool:
        if time.perf_counter() - start < args.budget_s:
            return False
        rows.append({"part": part, "precision": precision, "status": "skip", "note": "time budget spent"})
        return True

    if "train" in parts:
        data = load_images("fashion_mnist", "train", limit=limit)
        for name in args.families.split(","):
            for precision in precisions(device) if name in AMP_FAMILIES else ["fp32"]:
                if not out_of_time(f"train {name}", precision):
                    rows.append(check_training(name, precision, args, device, data, t4))
                    print(f"  {rows[-1]['part']} {precision}: {rows[-1]['status']} {rows[-1]['note']}", flush=True)
    if "bench" in parts:
        for model in BENCHES:
            if not out_of_time(f"bench {model}"):
                rows.append(check_bench(model, args, device))
    if "notebooks" in parts and not out_of_time("notebooks"):
        rows.extend(check_notebooks(args, device))
    print(summary(rows, device), flush=True)
    return 1 if any(r["status"] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
