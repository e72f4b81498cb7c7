"""Tests for deepmouse.download: registry, mirror, network path (faked), atomicity, errors.

The real data comes from the local mirror ``../shared/data/deepmouse`` (never the network).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deepmouse import download
from deepmouse.download import DATASETS, default_data_dir, download_dataset, is_complete
from deepmouse.recordings import DataError, load_dataset

MIRROR = Path(__file__).resolve().parents[2] / "shared/data/deepmouse"
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "SHA256SUMS").is_file(), reason=f"shared DeepMouse data not found at {MIRROR}"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A tmp cache, no mirror unless a test sets one, and no network access at all."""
    monkeypatch.setenv("DEEPMOUSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPMOUSE_DATA_MIRROR", raising=False)

    def no_network(*args: object, **kwargs: object) -> str:
        raise AssertionError("tests must not reach the network")

    monkeypatch.setattr(download.pooch, "retrieve", no_network)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    if not (MIRROR / "SHA256SUMS").is_file():
        pytest.skip(f"shared DeepMouse data not found at {MIRROR}")
    monkeypatch.setenv("DEEPMOUSE_DATA_MIRROR", str(MIRROR))
    return MIRROR


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def test_registry_names_and_urls() -> None:
    assert set(DATASETS) == {"deepmouse-touchpad", "deepmouse-mouse"}
    assert DATASETS["deepmouse-touchpad"].device == "touchpad"
    assert DATASETS["deepmouse-mouse"].device == "mouse"
    base = (
        "https://raw.githubusercontent.com/AndreaAmico/DeepMouse/"
        "6210d83be9c19f6757f7df939ae458d0cdacf992/data/"
    )
    for spec in DATASETS.values():
        for f in spec.files:
            assert f.url == base + Path(f.path).name
            assert f.known_hash == "sha256:" + f.sha256
            assert len(f.sha256) == 64
    assert DATASETS["deepmouse-mouse"].count("left") == 6
    assert DATASETS["deepmouse-mouse"].count("right") == 6


@needs_mirror
def test_registry_matches_shared_sha256sums() -> None:
    sums = {}
    for line in (MIRROR / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split()
        sums[rel] = digest
    registry = {
        f"{spec.mirror_folder}/{f.path}": f.sha256 for spec in DATASETS.values() for f in spec.files
    }
    assert registry == sums


def test_default_data_dir_follows_cache_env(tmp_path: Path) -> None:
    assert default_data_dir() == tmp_path / "cache" / "datasets"
    assert download.cache_dir() == tmp_path / "cache"


def test_unknown_name_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="deepmouse-mouse.*deepmouse-touchpad") as err:
        download_dataset("deepmouse-trackball", dest=tmp_path / "x")
    assert "deepmouse-trackball" in str(err.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("name", "device", "n_left", "n_right"),
    [("deepmouse-touchpad", "touchpad", 1, 1), ("deepmouse-mouse", "mouse", 6, 6)],
)
def test_download_from_mirror(
    mirror: Path, tmp_path: Path, name: str, device: str, n_left: int, n_right: int
) -> None:
    path = download_dataset(name)
    assert path == default_data_dir() / name
    spec = DATASETS[name]
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) == sorted(
        [f.path for f in spec.files] + ["dataset.json"]
    )
    for f in spec.files:  # byte for byte the mirror's files
        assert (path / f.path).read_bytes() == (mirror / spec.mirror_folder / f.path).read_bytes()

    info = json.loads((path / "dataset.json").read_text())
    assert info["name"] == name
    assert info["device"] == device
    assert info["screen"] == [1536, 864]
    assert "AndreaAmico/DeepMouse" in info["source"]
    assert "6210d83be9c19f6757f7df939ae458d0cdacf992" in info["source"]
    assert info["notes"]

    ds = load_dataset(path)
    assert len(ds.by_label(1)) == n_left
    assert len(ds.by_label(0)) == n_right
    assert ds.info["device"] == device
    assert all(not r.has_time for r in ds.recordings)
    assert _leftovers(path.parent) == []


def test_download_is_idempotent(mirror: Path, tmp_path: Path, monkeypatch) -> None:
    dest = tmp_path / "touch"
    first = download_dataset("deepmouse-touchpad", dest=dest)
    assert first == dest.absolute()
    stamp = (dest / "left/left.txt").stat().st_mtime_ns

    def no_copy(*args: object, **kwargs: object) -> None:
        raise AssertionError("a complete copy must not be copied again")

    monkeypatch.setattr(download, "_fetch_from_mirror", no_copy)
    assert download_dataset("deepmouse-touchpad", dest=dest) == first
    assert (dest / "left/left.txt").stat().st_mtime_ns == stamp
    assert is_complete("deepmouse-touchpad", dest)


def test_corrupted_mirror_refused(mirror: Path, tmp_path: Path, monkeypatch) -> None:
    bad_mirror = tmp_path / "mirror"
    shutil.copytree(mirror, bad_mirror)
    bad_file = bad_mirror / "mouse/right/r3.txt"
    data = bytearray(bad_file.read_bytes())
    data[100] = ord("7") if data[100] != ord("7") else ord("8")
    bad_file.write_bytes(bytes(data))
    monkeypatch.setenv("DEEPMOUSE_DATA_MIRROR", str(bad_mirror))

    dest = tmp_path / "out" / "mouse"
    with pytest.raises(DataError) as err:
        download_dataset("deepmouse-mouse", dest=dest)
    msg = str(err.value)
    assert "\n" not in msg
    assert "r3.txt" in msg
    assert DATASETS["deepmouse-mouse"].files[8].sha256 in msg  # expected hash
    assert download._sha256(bad_file) in msg  # actual hash
    assert not dest.exists()
    assert _leftovers(dest.parent) == []


def test_missing_mirror_file_refused(mirror: Path, tmp_path: Path, monkeypatch) -> None:
    bad_mirror = tmp_path / "mirror"
    shutil.copytree(mirror / "touchpad", bad_mirror / "touchpad")
    (bad_mirror / "touchpad/right/right.txt").unlink()
    monkeypatch.setenv("DEEPMOUSE_DATA_MIRROR", str(bad_mirror))
    dest = tmp_path / "touch"
    with pytest.raises(DataError, match=r"right\.txt.*missing"):
        download_dataset("deepmouse-touchpad", dest=dest)
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_damaged_copy_is_rebuilt(mirror: Path, tmp_path: Path) -> None:
    dest = tmp_path / "touch"
    download_dataset("deepmouse-touchpad", dest=dest)
    (dest / "right/right.txt").write_text("1,2\n3,4\n")
    assert not is_complete("deepmouse-touchpad", dest)
    download_dataset("deepmouse-touchpad", dest=dest)
    assert is_complete("deepmouse-touchpad", dest)
    assert _leftovers(tmp_path) == []


def test_foreign_dest_refused(mirror: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a copy of deepmouse-touchpad"):
        download_dataset("deepmouse-touchpad", dest=dest)
    assert (dest / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_complete("deepmouse-touchpad", download_dataset("deepmouse-touchpad", dest=empty))


@needs_mirror
def test_network_path_uses_pooch_retrieve(tmp_path: Path, monkeypatch) -> None:
    """The download path, with pooch.retrieve faked by the mirror: URLs, hashes, cache."""
    calls: list[tuple[str, str]] = []
    by_url = {
        f.url: MIRROR / spec.mirror_folder / f.path
        for spec in DATASETS.values()
        for f in spec.files
    }

    def fake_retrieve(url: str, known_hash: str, fname: str, path: Path, **kwargs) -> str:
        calls.append((url, known_hash))
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(by_url[url], target)
        return str(target)

    monkeypatch.setattr(download.pooch, "retrieve", fake_retrieve)
    path = download_dataset("deepmouse-mouse")
    spec = DATASETS["deepmouse-mouse"]
    assert calls == [(f.url, f.known_hash) for f in spec.files]
    assert str(path).startswith(str(tmp_path / "cache"))
    assert (tmp_path / "cache" / "downloads").is_dir()
    assert is_complete("deepmouse-mouse", path)


def test_network_failure_refused(tmp_path: Path, monkeypatch) -> None:
    def offline(url: str, **kwargs: object) -> str:
        raise ConnectionError(f"Failed to resolve 'raw.githubusercontent.com'\n({url})")

    monkeypatch.setattr(download.pooch, "retrieve", offline)
    dest = tmp_path / "touch"
    with pytest.raises(DataError, match="left.txt.*download failed") as err:
        download_dataset("deepmouse-touchpad", dest=dest)
    assert "\n" not in str(err.value)
    assert not dest.exists()
    assert _leftovers(tmp_path) == []
