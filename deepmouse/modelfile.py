"""Model files: one safetensors file that loads without executing code.

Layout of ``model.safetensors``:

- tensors: ``scale`` (the per-axis normalisation constants learned on the train split), then
  ``net.<name>`` (torch families: the network's state dict), ``svm.<name>`` (``svm``: support
  vectors, dual coefficients and Platt constants) or ``rocket.<name>`` (``rocket``: MiniRocket's
  dilations and biases, the ridge and Platt constants);
- metadata ``deepmouse``: a JSON object with ``format`` (``deepmouse-model``), ``format_version``,
  ``params`` (the :class:`~deepmouse.classifier.HandClassifier` parameters), ``window`` (the
  :class:`~deepmouse.windows.WindowConfig`), ``classes``, ``provenance`` (dataset checksum,
  split, seed, versions, ...) and ``tensors_sha256``, a digest of every tensor, so a file whose
  weights were altered is refused.

Never pickle, never ``torch.load``: safetensors holds only arrays and strings.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from deepmouse.classifier import ARRAY_FAMILIES, HandClassifier
from deepmouse.recordings import CLASS_NAMES, DataError
from deepmouse.windows import WindowConfig

FORMAT = "deepmouse-model"
FORMAT_VERSION = 1


class ModelFileError(DataError):
    """A model file that is missing, truncated, tampered with or not a deepmouse model."""


def versions() -> dict[str, str]:
    import sklearn
    import torch

    from deepmouse import __version__

    return {
        "deepmouse": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}\0".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


@dataclass
class HandModel:
    """A trained classifier with everything needed to predict from a raw recording.

    Attributes:
        classifier: the fitted :class:`HandClassifier`.
        window_config: how recordings become windows for this model.
        provenance: where the model came from (dataset checksum, split, seed, versions, ...).
    """

    classifier: HandClassifier
    window_config: WindowConfig
    provenance: dict = field(default_factory=dict)
    classes: tuple[str, ...] = CLASS_NAMES

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Raw movement windows ``(n, window, 2)`` px → ``(n, 2)`` [P(right), P(left)]."""
        return self.classifier.predict_proba(X)


def save_model(
    path: str | os.PathLike,
    classifier: HandClassifier,
    window_config: WindowConfig,
    provenance: dict | None = None,
) -> Path:
    """Write ``classifier`` and its preprocessing to one safetensors file, atomically."""
    path = Path(path)
    tensors: dict[str, np.ndarray] = {"scale": np.asarray(classifier.scale_, np.float64)}
    if classifier.model in ARRAY_FAMILIES:
        arrays = getattr(classifier, f"{classifier.model}_")
        tensors.update({f"{classifier.model}.{k}": np.asarray(v) for k, v in arrays.items()})
    else:
        state = classifier.net_.state_dict()
        tensors.update({f"net.{k}": v.detach().cpu().numpy() for k, v in state.items()})
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "params": classifier.resolved_params(),
        "window": window_config.to_dict(),
        "classes": list(CLASS_NAMES),
        "provenance": {"versions": versions(), **(provenance or {})},
        "tensors_sha256": _digest(tensors),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={"deepmouse": json.dumps(meta)})
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_metadata(path: str | os.PathLike) -> dict:
    """The ``deepmouse`` metadata of a model file (no tensors loaded)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            raw = (fh.metadata() or {}).get("deepmouse")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: not a deepmouse model file (unreadable safetensors: {exc})"
        ) from None
    if raw is None:
        raise ModelFileError(f"{path}: a safetensors file, but not a deepmouse model (no metadata)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: corrupt deepmouse metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a deepmouse model file (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {meta.get('format_version')} is not supported "
            f"(this deepmouse reads version {FORMAT_VERSION})"
        )
    return meta


def load_model(path: str | os.PathLike, device: str = "cpu") -> HandModel:
    """Load a model file written by :func:`save_model`; never executes code from the file.

    Raises:
        ModelFileError: missing, truncated, tampered or foreign file.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: truncated or corrupt model file ({exc})") from None
    if _digest(tensors) != meta.get("tensors_sha256"):
        raise ModelFileError(f"{path}: weights do not match their checksum (file altered)")
    try:
        params = dict(meta["params"])
        params["device"] = device
        clf = HandClassifier(**params)
        window_config = WindowConfig(**meta["window"])
        clf.scale_ = tensors["scale"]
        clf.classes_ = np.array([0, 1])
        clf.window_ = window_config.window
        if clf.model in ARRAY_FAMILIES:
            prefix = f"{clf.model}."
            arrays = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            if not arrays:
                raise KeyError(f"no {clf.model} arrays")
            setattr(clf, f"{clf.model}_", arrays)
            if clf.model == "rocket":
                from deepmouse.rocket import _aeon

                _aeon()
        else:
            import torch

            from deepmouse.models import build_model
            from deepmouse.train import resolve_device

            clf.device_ = resolve_device(device)
            clf.net_ = build_model(clf.model_config())
            state = {k[4:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("net.")}
            clf.net_.load_state_dict(state, strict=True)
            clf.net_.to(clf.device_).eval()
    except ImportError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: inconsistent model file ({first})") from None
    return HandModel(clf, window_config, meta.get("provenance", {}), tuple(meta["classes"]))
