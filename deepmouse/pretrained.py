"""Models trained on the public DeepMouse recordings: built on first use, then cached.

``deepmouse live`` with no model file uses the model for its pointing device (``mouse`` or
``touchpad``). The first time, :func:`ensure_model` downloads the recordings
(:func:`deepmouse.download.download_dataset`, checksum-verified), trains the default family on
them with an honest split and writes the run folder into the user's cache::

    <cache>/models/<device>/model.safetensors, metrics.json, ... card.json

Later calls find it there. ``card.json`` is the model card (:func:`model_card`): whose hands the
model learned, how much data, and how it did on data it never trained on (the test split: the
last 15% of each touchpad recording, or whole mouse sessions) — the figures a user should
expect for *those* hands. Another person moves differently; their own recordings serve them
best.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepmouse.atomic import write_atomic
from deepmouse.download import cache_dir, download_dataset
from deepmouse.jsonio import dumps_strict, loads_strict
from deepmouse.recordings import CLASS_NAMES, DataError

POINTER_DEVICES = ("mouse", "touchpad")
DEFAULT_POINTER_DEVICE = "mouse"
CARD_FILE = "card.json"

ADVICE = (
    "These figures hold for the hands that made the recordings. Another person's hands, mouse "
    "and habits differ: record your own (deepmouse record) and train on them, starting from "
    "this model (deepmouse train DATA --init MODEL)."
)


@dataclass(frozen=True)
class PretrainedSpec:
    """How the cached model of one pointing device is built.

    Attributes:
        device: ``mouse`` or ``touchpad``.
        dataset: name of the download (:data:`deepmouse.download.DATASETS`).
        split: the honest split whose test figures the card reports.
        whose: who and what made the recordings, in one sentence.
    """

    device: str
    dataset: str
    split: str
    whose: str


SPECS = {
    "mouse": PretrainedSpec(
        "mouse", "deepmouse-mouse", "session",
        "One person's hands on one computer mouse, playing browser games (the public DeepMouse "
        "recordings, 2019).",
    ),
    "touchpad": PretrainedSpec(
        "touchpad", "deepmouse-touchpad", "chrono",
        "One person's hands on one laptop touchpad, reading a blog post (the public DeepMouse "
        "recordings, 2019).",
    ),
}


def check_device(device: str) -> PretrainedSpec:
    """The spec of ``device``; a :class:`DataError` naming the choices otherwise."""
    try:
        return SPECS[device]
    except (KeyError, TypeError):
        raise DataError(f"unknown pointing device {device!r} (choose one of "
                        f"{', '.join(POINTER_DEVICES)})") from None


def models_dir() -> Path:
    """Where cached models live: ``<cache>/models`` (``$DEEPMOUSE_CACHE`` moves it)."""
    return cache_dir() / "models"


def model_folder(device: str) -> Path:
    """The run folder of the cached model of ``device``."""
    return models_dir() / check_device(device).device


def cached_model(device: str) -> Path | None:
    """The cached model file of ``device`` if it is complete (model file and card), else None."""
    from deepmouse.modelfile import MODEL_FILE  # here: the command line starts without it

    folder = model_folder(device)
    if (folder / MODEL_FILE).is_file() and (folder / CARD_FILE).is_file():
        return folder / MODEL_FILE
    return None


def build_config(device: str, data: str | os.PathLike):
    """The :class:`~deepmouse.pipeline.RunConfig` of the cached model of ``device``: the
    default family with its defaults."""
    from deepmouse.pipeline import RunConfig

    spec = check_device(device)
    return RunConfig(dataset=str(data), out=str(model_folder(device)), split=spec.split)


def ensure_model(
    device: str = DEFAULT_POINTER_DEVICE,
    train: Callable | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Path:
    """The model file of ``device``: the cached one, or one built now.

    Building downloads the recordings (``$DEEPMOUSE_DATA_MIRROR`` as for ``deepmouse data
    download``), trains (``train(config, resume=True)``, default
    :func:`deepmouse.pipeline.train_run`; the command line passes one with a progress bar) and
    writes the model card. A build killed midway resumes from its last epoch next time.

    Args:
        device: ``mouse`` or ``touchpad``.
        train: trains a :class:`~deepmouse.pipeline.RunConfig` into its run folder and returns
            the :class:`~deepmouse.pipeline.RunResult`.
        on_stage: called with a one-line description before each stage (download, train).

    Raises:
        DataError: unknown device, download or checksum failure, a busy cache folder.
    """
    from deepmouse.pipeline import train_run

    spec = check_device(device)
    found = cached_model(device)
    if found is not None:
        return found
    say = on_stage or (lambda line: None)
    say(f"no cached {device} model yet: building it once from the DeepMouse recordings "
        f"({spec.dataset})")
    data = download_dataset(spec.dataset)
    say(f"training the {device} model on {data}")
    result = (train or train_run)(build_config(device, data), resume=True)
    card = model_card_from_run(spec, result)
    write_atomic(result.out / CARD_FILE, dumps_strict(card, indent=2) + "\n")
    return result.model_path


def model_card_from_run(spec: PretrainedSpec, result) -> dict:
    """The model card of a freshly trained cached model (see :func:`model_card`), from its run
    folder: what went in is the run's ``data.json``."""
    data = loads_strict((result.out / "data.json").read_bytes())
    classes = {entry["name"]: entry for entry in data["classes"]}
    minutes = {name: round(classes[name]["minutes"], 1) for name in CLASS_NAMES}
    sessions = {name: classes[name]["recordings"] for name in CLASS_NAMES}
    root = Path(data["dataset"])
    test = result.metrics["test"]
    sequential = test.get("sequential") or {}
    return {
        "device": spec.device,
        "family": result.classifier.family,
        "whose_hands": spec.whose,
        "data": {"dataset": spec.dataset, "minutes": minutes, "sessions": sessions,
                 "windows": result.metrics["windows"]},
        "held_out": {
            "split": result.metrics["split"],
            "test_recordings": [Path(name).relative_to(root).as_posix() for name in
                                result.metrics.get("held_out", {}).get("test", [])],
            "window_accuracy": test.get("accuracy"),
            "roc_auc": test.get("roc_auc"),
            "decision_threshold": sequential.get("threshold"),
            "decided": sequential.get("decided"),
            "right_when_decided": sequential.get("accuracy"),
            "median_seconds_to_decide": sequential.get("median_seconds"),
        },
        "advice": ADVICE,
        "built": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "train_seconds": round(result.metrics["train_seconds"], 1),
    }


def model_card(device: str) -> dict | None:
    """The card of the cached model of ``device`` (``None`` if none is cached), with ``model``
    (its path) and ``size_bytes`` added.

    Raises:
        DataError: a card file that is not valid JSON.
    """
    path = cached_model(device)
    if path is None:
        return None
    card_path = path.parent / CARD_FILE
    try:
        card = loads_strict(card_path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{card_path}: corrupt model card ({exc}); delete the folder to "
                        "rebuild it") from None
    if not isinstance(card, dict):
        raise DataError(f"{card_path}: corrupt model card (not a JSON object)")
    return card | {"model": str(path), "size_bytes": path.stat().st_size}


def list_models() -> list[dict]:
    """The cards of every cached model, in :data:`POINTER_DEVICES` order."""
    return [card for device in POINTER_DEVICES if (card := model_card(device)) is not None]
