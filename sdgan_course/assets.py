"""Every file the course ships, in one manifest: find it, verify it, fetch it.

The manifest is ``data/SHA256SUMS`` (the ``sha256sum`` format: ``<sha256>  <path inside data/>``, so
``cd data && sha256sum -c SHA256SUMS`` checks a copy by hand). It lists the datasets, the pretrained GAN checkpoints,
the course classifiers and their reference statistics. Every shipped file is checked against it each time it is
loaded (:func:`find_asset`); tools that make a shipped file record it with :func:`record_asset`.

Files are looked up in this order: ``$SDGAN_DATA``, the checkout's ``data/`` folder, the user cache
(``$XDG_CACHE_HOME/sdgan_course`` or ``~/.cache/sdgan_course``). A missing file is an error that names it and says
how to get it; it is downloaded from the course repository only when asked (``download=True``), never silently.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from .course import DATA_URL

DATA_ENV = "SDGAN_DATA"
MANIFEST = "SHA256SUMS"
CHECKOUT_DATA = Path(__file__).resolve().parent.parent / "data"  # the checkout's data/ folder


class DataError(RuntimeError):
    """A data file is missing, corrupted, not in the manifest, or asked for by an unknown name or split."""


# ---------------------------------------------------------------- where files live


def data_dirs() -> list[Path]:
    """The folders searched for data files, in lookup order."""
    dirs = []
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]).expanduser())
    dirs.append(CHECKOUT_DATA)
    dirs.append(cache_dir())
    return dirs


RUNS_ENV = "SDGAN_RUNS"
CHECKOUT = CHECKOUT_DATA.parent


def runs_dir(*parts: str) -> Path:
    """The one folder for what a learner's runs write (checkpoints, samples, logs), joined with ``parts``.

    ``$SDGAN_RUNS`` if set, else ``runs/`` at the top of the checkout (ignored by git, wherever a notebook runs
    from), else ``runs/`` in the current folder for an installed copy. Not created here: the writers create it.
    """
    if os.environ.get(RUNS_ENV):
        base = Path(os.environ[RUNS_ENV]).expanduser()
    elif (CHECKOUT / "pyproject.toml").is_file():
        base = CHECKOUT / "runs"
    else:
        base = Path("runs")
    return base.joinpath(*parts)


def cache_dir() -> Path:
    """The user cache folder for downloaded and computed files."""
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base).expanduser() / "sdgan_course"


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- the manifest


def manifest_path() -> Path:
    """The manifest file: the checkout's ``data/SHA256SUMS``, else the first one found in :func:`data_dirs`."""
    for folder in [CHECKOUT_DATA, *data_dirs()]:
        if (folder / MANIFEST).is_file():
            return folder / MANIFEST
    raise DataError(
        f"The course's file manifest ({MANIFEST}) was not found in {', '.join(map(str, data_dirs()))}. Copy "
        f"data/{MANIFEST} from the course repository next to the data files (or set {DATA_ENV})."
    )


def manifest() -> dict[str, str]:
    """Every shipped file: its path inside ``data/`` -> its SHA-256."""
    table = {}
    for line in manifest_path().read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            table[name.strip().lstrip("*")] = digest
    return table


def shipped(folder: str = "") -> list[str]:
    """The shipped files inside ``folder`` of ``data/`` (e.g. ``"checkpoints"``), sorted."""
    prefix = f"{folder.rstrip('/')}/" if folder else ""
    return sorted(name for name in manifest() if name.startswith(prefix))


def record_asset(path: str | os.PathLike) -> str:
    """Add or update the manifest line of a file inside the checkout's ``data/`` folder; returns its SHA-256.

    Tools call this after writing a shipped file (a retrained classifier, an exported GAN, reference statistics).
    """
    path = Path(path).resolve()
    try:
        name = path.relative_to(CHECKOUT_DATA).as_posix()
    except ValueError:
        raise DataError(f"{path} is not inside the course's data/ folder ({CHECKOUT_DATA}); only shipped files are "
                        "recorded in the manifest.") from None
    digest = sha256_of(path)
    target = CHECKOUT_DATA / MANIFEST
    table = manifest() if target.is_file() else {}
    table[name] = digest
    target.write_text("".join(f"{sha}  {n}\n" for n, sha in sorted(table.items())))
    return digest


def forget_asset(name: str) -> None:
    """Remove a file's line from the manifest (when a tool deletes a shipped file that another replaces)."""
    table = manifest()
    if table.pop(name, None) is not None:
        (CHECKOUT_DATA / MANIFEST).write_text("".join(f"{sha}  {n}\n" for n, sha in sorted(table.items())))


# ---------------------------------------------------------------- finding and checking files


def find_asset(name: str, *, download: bool = False) -> Path:
    """The path of a shipped file (``name`` is its path inside ``data/``), verified against the manifest.

    An unknown name is an error that lists the shipped files of that folder.
    """
    table = manifest()
    if name not in table:
        folder = name.rpartition("/")[0]
        known = ", ".join(Path(n).stem for n in shipped(folder)) or "none"
        what = f"Shipped {folder}" if folder else "Shipped files"
        raise DataError(f"{name!r} is not a file the course ships. {what}: {known}.")
    return find_file(name, table[name], download=download)


def find_file(filename: str, sha256: str | None = None, *, download: bool = False) -> Path:
    """Return the path of a data file, checking its checksum when ``sha256`` is given.

    Looks in :func:`data_dirs` order. A file whose SHA-256 differs from ``sha256`` is refused (it is corrupted or a
    different version). A missing file is fetched from the course repository only when ``download=True``; offline,
    the error names the file and says how to get it. Nothing is ever downloaded silently.
    """
    searched = data_dirs()
    for folder in searched:
        path = folder / filename
        if path.is_file():
            if sha256 is not None:
                actual = sha256_of(path)
                if actual != sha256:
                    raise DataError(
                        f"{path} is corrupted or not the expected version: its SHA-256 is {actual[:16]}..., "
                        f"expected {sha256[:16]}.... Delete it and copy a fresh {filename} from the course "
                        f"repository's data/ folder (git checkout -- data/{filename}, or {DATA_URL}/{filename}), "
                        "or load with download=True."
                    )
            return path
    if download:
        return _download(filename, sha256)
    where = "\n  ".join(str(d) for d in searched)
    raise DataError(
        f"Data file {filename!r} was not found. Searched:\n  {where}\n"
        f"To fix: clone the course repository (its data/ folder holds the file), or copy {filename} into one of "
        f"these folders, or point {DATA_ENV} at a folder that has it, or (online) load with download=True to fetch "
        f"{DATA_URL}/{filename} into {cache_dir()}."
    )


def verify_all() -> dict[str, str]:
    """Check every shipped file; returns ``{name: problem}`` for those missing or corrupted (empty when all is well)."""
    problems = {}
    for name, digest in manifest().items():
        try:
            find_file(name, digest)
        except DataError as err:
            problems[name] = str(err).splitlines()[0]
    return problems


def _download(filename: str, sha256: str | None) -> Path:
    target = cache_dir() / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    url = f"{DATA_URL}/{filename}"
    try:
        with (
            urllib.request.urlopen(url, timeout=30) as response,
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as tmp,
        ):
            shutil.copyfileobj(response, tmp)
    except OSError as err:
        raise DataError(
            f"Could not download {url} ({err}). If you are offline, copy {filename} from the course repository's "
            f"data/ folder into {target.parent} or set {DATA_ENV}."
        ) from err
    if sha256 is not None and sha256_of(Path(tmp.name)) != sha256:
        os.unlink(tmp.name)
        raise DataError(f"The download of {url} does not match its checksum; nothing was saved. Try again later.")
    os.replace(tmp.name, target)
    return target
