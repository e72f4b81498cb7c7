"""Download the public DeepMouse recordings as checksum-verified dataset folders.

Two datasets are known (:data:`DATASETS`), both from the public GitHub repository
``AndreaAmico/DeepMouse`` at a fixed commit:

- ``deepmouse-touchpad``: laptop touchpad, one ~10 min session per hand;
- ``deepmouse-mouse``: mouse, six sessions per hand.

:func:`download_dataset` fetches every file with :func:`pooch.retrieve` (SHA-256 pinned in the
registry below) into the user's cache (``platformdirs.user_cache_dir("deepmouse")``, or
``$DEEPMOUSE_CACHE``), then lays it out as a dataset folder::

    <dest>/left/<files>   <dest>/right/<files>   <dest>/dataset.json

With ``$DEEPMOUSE_DATA_MIRROR=DIR`` the files are read from a local copy laid out as
``DIR/touchpad/left/left.txt``, ``DIR/mouse/right/r1.txt``, ... instead of the network (this is
how tests and machines without internet access use the data).

Every file is verified against its SHA-256 before it lands in ``dest``. The dataset is built
in a temporary folder next to ``dest`` and renamed into place only once every file verified,
so a failure (bad checksum, missing mirror file, network error) raises
:class:`~deepmouse.recordings.DataError` and never leaves a partial ``dest``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import pooch

from deepmouse.jsonio import dumps_strict
from deepmouse.recordings import CLASS_NAMES, DEFAULT_SCREEN, RECORDING_SUFFIXES, DataError

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "RemoteFile",
    "UPSTREAM_COMMIT",
    "UPSTREAM_REPO",
    "cache_dir",
    "default_data_dir",
    "download_dataset",
    "is_complete",
]

UPSTREAM_REPO = "AndreaAmico/DeepMouse"
UPSTREAM_COMMIT = "6210d83be9c19f6757f7df939ae458d0cdacf992"
UPSTREAM_BASE_URL = (
    f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/data/"
)

CACHE_ENV = "DEEPMOUSE_CACHE"
MIRROR_ENV = "DEEPMOUSE_DATA_MIRROR"
INFO_FILE = "dataset.json"


@dataclass(frozen=True)
class RemoteFile:
    """One recording file of a dataset.

    Attributes:
        path: its place in the dataset folder, e.g. ``"left/l1.txt"``.
        upstream: its file name in the upstream ``data/`` folder, e.g. ``"l1.txt"``.
        sha256: hex SHA-256 of its bytes.
    """

    path: str
    upstream: str
    sha256: str

    @property
    def url(self) -> str:
        return UPSTREAM_BASE_URL + self.upstream

    @property
    def known_hash(self) -> str:
        """The hash in pooch's ``"sha256:<hex>"`` form."""
        return f"sha256:{self.sha256}"


@dataclass(frozen=True)
class DatasetSpec:
    """A downloadable dataset: its files and the metadata written to ``dataset.json``.

    Attributes:
        name: registry name, e.g. ``"deepmouse-mouse"``.
        device: ``"touchpad"`` or ``"mouse"``.
        mirror_folder: its folder in a local mirror (``$DEEPMOUSE_DATA_MIRROR/<mirror_folder>``).
        files: every recording file.
        notes: free text for ``dataset.json``.
    """

    name: str
    device: str
    mirror_folder: str
    files: tuple[RemoteFile, ...]
    notes: str = ""
    screen: tuple[int, int] = field(default=DEFAULT_SCREEN)

    def info(self) -> dict:
        """The contents of ``dataset.json`` for this dataset."""
        return {
            "name": self.name,
            "device": self.device,
            "source": f"{UPSTREAM_REPO}@{UPSTREAM_COMMIT}",
            "url": f"https://github.com/{UPSTREAM_REPO}/tree/{UPSTREAM_COMMIT}/data",
            "screen": list(self.screen),
            "notes": self.notes,
            "files": {f.path: {"upstream": f.upstream, "sha256": f.sha256} for f in self.files},
        }

    def count(self, label: str) -> int:
        """Number of recordings of one class (``"left"`` or ``"right"``)."""
        return sum(1 for f in self.files if f.path.split("/")[0] == label)


def _f(path: str, sha256: str) -> RemoteFile:
    return RemoteFile(path=path, upstream=path.rsplit("/", 1)[-1], sha256=sha256)


_COMMON_NOTES = (
    "Headerless 'x,y' CSV, absolute cursor position in pixels, polled about every 10 ms "
    "(no timestamps recorded; the interval is not constant and has spikes). "
    "Each file is one continuous session of one hand."
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="deepmouse-touchpad",
            device="touchpad",
            mirror_folder="touchpad",
            files=(
                _f("left/left.txt",
                   "63bdcdcd94277dc66bcd3dfd67fd5c3894270f1dff3eb78678804210de3d4f84"),
                _f("right/right.txt",
                   "d9bf58726d2eb1629fb8f8bc96aae058535ff3d7c96f73c17c041d7d385da90d"),
            ),
            notes=(
                "Laptop touchpad while reading a blog post; one session per hand, "
                "60,000 samples each (~10 min). " + _COMMON_NOTES
            ),
        ),
        DatasetSpec(
            name="deepmouse-mouse",
            device="mouse",
            mirror_folder="mouse",
            files=(
                _f("left/l1.txt",
                   "e7af9dc594cf3787edeb6279cebf08b92400da6405a8f92453211b211c7a36ac"),
                _f("left/l2.txt",
                   "6d5d35bbdab2d58e92eb4f0733e7a760f6f2d19c0427c6e82cde3a8fc03464fd"),
                _f("left/l3.txt",
                   "7559e54246506a473965cbc7546ffe30b60f13371f251b4130ed5fbcbb2e7a3c"),
                _f("left/l5.txt",
                   "39a9c1e4e176633f9c240f5a471cef50f7244530af1bd2c230d420ccb023ec1a"),
                _f("left/l6.txt",
                   "660d6037e6c8b5163d92a02a56d43c6b11086a7f89996e0516be22fa1990dc0b"),
                _f("left/l7.txt",
                   "ca032074367f676da850eaefe9e7ae77598d66e21f8840da79e7977ce942bb01"),
                _f("right/r1.txt",
                   "338d071844b77f6b390dc8a0df382972b2199557fb9d18ccd92b36cb81497de9"),
                _f("right/r2.txt",
                   "32f77b4c3fc534afbd81695b6b72ed5c7ef68e53e806580b0271f0c5101243eb"),
                _f("right/r3.txt",
                   "6c521c9b45275a59084589c47a53aad6e979de1d9dcf4864cae11d269a0cd612"),
                _f("right/r5.txt",
                   "8a7488c5e9b27b9b1ca292535c7dbc74e81dbadd1f6283ddf7164405d632f875"),
                _f("right/r6.txt",
                   "0f5bbe3f4d4e73fcc3e1a878fc15c85161cbff315bd03c089c0c821d3000c4b0"),
                _f("right/r7.txt",
                   "232fef7172a36f821be34469a4307823cb4318993cce2a23217f334309bbaeb5"),
            ),
            notes=(
                "Mouse while playing browser games; six sessions per hand, 60,000 samples "
                "(l1, r1) or 30,000 each. Upstream l4 and r4 are not part of this dataset. "
                + _COMMON_NOTES
            ),
        ),
    )
}
"""Known datasets by name."""


def cache_dir() -> Path:
    """The deepmouse cache: ``$DEEPMOUSE_CACHE`` if set, else the platform's user cache dir."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("deepmouse"))


def default_data_dir() -> Path:
    """Where datasets are laid out by default: ``<cache>/datasets`` (one subfolder per name)."""
    return cache_dir() / "datasets"


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(DATASETS))
        raise DataError(f"unknown dataset {name!r} (known: {known})") from None


def _sha256(path: Path) -> str:
    return pooch.file_hash(str(path), alg="sha256")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def is_complete(name: str, folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a complete, verified copy of dataset ``name``.

    That is: its ``dataset.json`` names the dataset, every registry file is there with the
    right SHA-256, and ``left/`` and ``right/`` hold no other recording files.
    """
    spec = _spec(name)
    folder = Path(folder)
    try:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("name") != spec.name:
            return False
        expected = {f.path for f in spec.files}
        for label in CLASS_NAMES:
            sub = folder / label
            if not sub.is_dir():
                return False
            for p in sub.iterdir():
                if p.suffix.lower() in RECORDING_SUFFIXES and not p.name.startswith("."):
                    if f"{label}/{p.name}" not in expected:
                        return False
        return all(
            (folder / f.path).is_file() and _sha256(folder / f.path) == f.sha256
            for f in spec.files
        )
    except (OSError, ValueError):
        return False


def _is_ours(name: str, folder: Path) -> bool:
    """Whether ``folder`` was written by :func:`download_dataset` for ``name`` (maybe damaged)."""
    try:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("name") == name


def _fetch_from_mirror(spec: DatasetSpec, f: RemoteFile, mirror: Path, target: Path) -> None:
    source = mirror / spec.mirror_folder / f.path
    if not source.is_file():
        raise DataError(
            f"{source}: missing from the data mirror (${MIRROR_ENV}); {spec.name} needs it"
        )
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise DataError(f"{source}: cannot copy from the data mirror: {exc.strerror}") from None
    actual = _sha256(target)
    if actual != f.sha256:
        raise DataError(
            f"{source}: checksum mismatch for {spec.name} {f.path}: "
            f"expected sha256 {f.sha256}, got {actual}"
        )


def _fetch_from_network(spec: DatasetSpec, f: RemoteFile, target: Path) -> None:
    downloads = cache_dir() / "downloads" / UPSTREAM_COMMIT[:12]
    try:
        cached = pooch.retrieve(
            f.url, known_hash=f.known_hash, fname=f.upstream, path=downloads, progressbar=False
        )
    except Exception as exc:  # network, HTTP and checksum errors all end up here
        raise DataError(
            f"{f.url}: download failed for {spec.name} {f.path}: {_one_line(exc)}"
        ) from None
    try:
        shutil.copyfile(cached, target)
    except OSError as exc:
        raise DataError(f"{cached}: cannot copy from the download cache: {exc.strerror}") from None
    actual = _sha256(target)
    if actual != f.sha256:  # pooch checked the cache; this checks the copy
        raise DataError(
            f"{cached}: checksum mismatch for {spec.name} {f.path}: "
            f"expected sha256 {f.sha256}, got {actual}"
        )


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def download_dataset(name: str, dest: str | os.PathLike | None = None) -> Path:
    """Download dataset ``name`` and lay it out as a verified dataset folder.

    Args:
        name: one of :data:`DATASETS` (``"deepmouse-touchpad"``, ``"deepmouse-mouse"``).
        dest: the dataset folder to create; default ``default_data_dir() / name``.

    Returns:
        The dataset folder (``dest``), holding ``left/``, ``right/`` and ``dataset.json``.
        If it already holds a complete verified copy, it is returned as is.

    Raises:
        DataError: unknown name; ``dest`` exists and is not (a copy of) this dataset; a file
            missing from the mirror, a download failure, or a checksum mismatch. Nothing is
            left at ``dest`` in that case.
    """
    spec = _spec(name)
    dest = Path(dest).expanduser() if dest is not None else default_data_dir() / spec.name
    dest = dest.absolute()

    if dest.exists():
        if is_complete(spec.name, dest):
            return dest
        if dest.is_dir() and not any(dest.iterdir()):
            pass  # an empty folder: fill it
        elif not (dest.is_dir() and _is_ours(spec.name, dest)):
            raise DataError(
                f"{dest}: already exists and is not a copy of {spec.name}; "
                "remove it or choose another destination"
            )
        # else: an earlier, damaged copy of this dataset: rebuilt and replaced below

    mirror_env = os.environ.get(MIRROR_ENV, "").strip()
    mirror = Path(mirror_env).expanduser() if mirror_env else None
    if mirror is not None and not mirror.is_dir():
        raise DataError(f"{mirror}: ${MIRROR_ENV} is not a folder")

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    except OSError as exc:
        raise DataError(f"{dest}: cannot create the dataset folder: {exc.strerror}") from None
    try:
        for f in spec.files:
            target = tmp / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if mirror is not None:
                _fetch_from_mirror(spec, f, mirror, target)
            else:
                _fetch_from_network(spec, f, target)
        (tmp / INFO_FILE).write_text(
            dumps_strict(spec.info(), indent=2) + "\n", encoding="utf-8"
        )
        _fsync_tree(tmp)
        _move_into_place(spec, tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _move_into_place(spec: DatasetSpec, tmp: Path, dest: Path) -> None:
    """Rename the verified ``tmp`` folder to ``dest``, replacing an empty or damaged ``dest``."""
    old: Path | None = None
    try:
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        elif dest.exists():
            old = dest.with_name(f".{dest.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            os.rename(dest, old)
        os.rename(tmp, dest)
    except OSError as exc:
        if is_complete(spec.name, dest):  # another process finished first
            return
        if old is not None and old.exists() and not dest.exists():
            os.rename(old, dest)  # put the previous folder back
            old = None
        raise DataError(f"{dest}: cannot move the dataset into place: {exc.strerror}") from None
    finally:
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)
