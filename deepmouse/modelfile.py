"""Model files: one safetensors file that loads without executing code.

Layout of ``model.safetensors`` (format version 2):

- tensors: ``scale`` (the per-axis normalisation constants learned on the train split) and
  ``state.<name>``, the arrays of the family's fitted state (a network's weights, an SVM's
  support vectors, MiniRocket's dilations and biases...);
- metadata ``deepmouse``: a JSON object with ``format`` (``deepmouse-model``),
  ``format_version``, ``family``, ``params`` (the family's resolved parameters), ``settings``
  (the state's JSON-able settings), ``window`` (the :class:`~deepmouse.windows.WindowConfig`),
  ``classes``, ``decision`` (the constants of :mod:`deepmouse.decision`, fitted on held-out
  windows; ``null`` if none), ``provenance`` (dataset checksum, split, seed, versions, ...) and
  ``tensors_sha256``, a digest of every tensor, so a file whose weights were altered is refused.

Version 1 files (``params["model"]`` and ``net.``/``svm.``/``rocket.`` tensors) are read too.
Never pickle, never ``torch.load``: safetensors holds only arrays and strings.

A file is validated like a recording before anything is built from it, because the digest
proves integrity, not authorship (anyone can edit the metadata and recompute it): the metadata
against :func:`metadata_schema` (strict JSON: no NaN), every tensor's name, dtype and
finiteness, the family's parameters and the shapes of its arrays (networks are sized on torch's
meta device first, so a file cannot ask for more memory than its own arrays), and finally one
window scored, which must give a finite probability.
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

from deepmouse.atomic import atomic_path
from deepmouse.classifier import HandClassifier
from deepmouse.decision import DecisionModel
from deepmouse.families import FAMILIES, FamilyState, MissingDependencyError, get_family
from deepmouse.jsonio import dumps_strict, loads_strict
from deepmouse.recordings import CLASS_NAMES, DataError
from deepmouse.windows import MAX_GRID_RATE, MAX_WINDOW, WindowConfig

MODEL_FILE = "model.safetensors"
"""The model file's name in a run folder."""
FORMAT = "deepmouse-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
STATE_PREFIX = "state."
TENSOR_KINDS = "fiu"
"""numpy dtype kinds a tensor may have: floating point and (unsigned) integers."""


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
        decision: constants of the sequential decision (``None`` in files of format 1).
    """

    classifier: HandClassifier
    window_config: WindowConfig
    provenance: dict = field(default_factory=dict)
    classes: tuple[str, ...] = CLASS_NAMES
    decision: DecisionModel | None = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Raw movement windows ``(n, window, 2)`` px → ``(n, 2)`` [P(right), P(left)]."""
        return self.classifier.predict_proba(X)

    def predict_proba_one(self, X: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of a single window ``(1, window, 2)``, by the classifier's
        one-window path (equal up to float32 rounding, cheaper)."""
        return self.classifier.predict_proba_one(X)


def save_model(
    path: str | os.PathLike,
    classifier: HandClassifier,
    window_config: WindowConfig,
    provenance: dict | None = None,
    decision: DecisionModel | None = None,
) -> Path:
    """Write ``classifier``, its preprocessing and its decision constants to one safetensors
    file, atomically."""
    path = Path(path)
    state = classifier.state_
    tensors: dict[str, np.ndarray] = {"scale": np.asarray(classifier.scale_, np.float64)}
    tensors |= {STATE_PREFIX + k: np.asarray(v) for k, v in state.arrays.items()}
    # np.ascontiguousarray would turn a 0-d array (a step counter) into shape (1,)
    tensors = {k: np.require(v, requirements="C") for k, v in tensors.items()}
    params = classifier.resolved_params()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": classifier.family,
        "params": params,
        "settings": state.settings,
        "window": window_config.to_dict(),
        "classes": list(CLASS_NAMES),
        "decision": None if decision is None else decision.to_dict(),
        "provenance": {"versions": versions(), **(provenance or {})},
        "tensors_sha256": _digest(tensors),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"deepmouse": dumps_strict(meta)})
    return path


def metadata_schema(version: int) -> dict:
    """The JSON schema of the ``deepmouse`` metadata of a file of format ``version``.

    The family's parameters and settings are checked by the family itself
    (:meth:`~deepmouse.families.Family.validate`, :meth:`~deepmouse.families.Family.restore`).
    """
    number = {"type": "number"}
    window = {
        "type": "object",
        "required": ["window", "rate", "stride", "idle_threshold"],
        "additionalProperties": False,
        "properties": {
            "window": {"type": "integer", "minimum": 2, "maximum": MAX_WINDOW},
            "rate": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_GRID_RATE},
            "stride": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_WINDOW},
            "idle_threshold": {"type": "number", "minimum": 0},
        },
    }
    decision = {
        "type": ["object", "null"],
        "required": ["mu", "sigma2", "tau2", "bias", "switch_rate", "threshold"],
        "additionalProperties": False,
        "properties": {name: number for name in ("mu", "sigma2", "tau2", "bias",
                                                  "switch_rate", "threshold")},
    }
    common = {
        "format": {"const": FORMAT},
        "format_version": {"const": version},
        "window": window,
        "classes": {"const": list(CLASS_NAMES)},
        "provenance": {"type": "object"},
        "tensors_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }
    if version == 1:
        properties = common | {"params": {"type": "object", "required": ["model"],
                                          "properties": {"model": {"enum": list(FAMILIES)}}}}
    else:
        properties = common | {"family": {"enum": list(FAMILIES)}, "params": {"type": "object"},
                               "settings": {"type": "object"}, "decision": decision}
    return {"type": "object", "required": sorted(properties), "additionalProperties": False,
            "properties": properties}


def check_metadata(path: Path, meta: dict) -> None:
    """Raise :class:`ModelFileError` naming the first field of ``meta`` that breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(metadata_schema(meta["format_version"]))
    error = jsonschema.exceptions.best_match(validator.iter_errors(meta))
    if error is not None:
        where = ".".join(map(str, error.absolute_path)) or "(top level)"
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        raise ModelFileError(f"{path}: metadata field {where}: {message}")


def check_tensors(path: Path, tensors: dict[str, np.ndarray], version: int) -> None:
    """Raise :class:`ModelFileError` for a tensor of a foreign name or dtype, a non-finite
    value, or normalisation scales that are not two finite positive numbers."""
    for name, array in tensors.items():
        if version >= 2 and name != "scale" and not name.startswith(STATE_PREFIX):
            raise ModelFileError(f"{path}: unexpected tensor {name!r} (expected 'scale' and "
                                 f"'{STATE_PREFIX}*')")
        if array.dtype.kind not in TENSOR_KINDS:
            raise ModelFileError(f"{path}: tensor {name} has dtype {array.dtype} (expected "
                                 "floating point or integer)")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ModelFileError(f"{path}: tensor {name} holds NaN or infinite values")
    scale = tensors.get("scale")
    if scale is None or scale.shape != (2,) or scale.dtype.kind != "f" or not (scale > 0).all():
        raise ModelFileError(f"{path}: tensor scale must be two finite positive numbers "
                             f"(the per-axis normalisation), got "
                             f"{None if scale is None else scale.tolist()}")


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
        meta = loads_strict(raw)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: corrupt deepmouse metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: corrupt deepmouse metadata (a JSON object expected, got "
                             f"{type(meta).__name__})")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a deepmouse model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path}: model format version {meta.get('format_version')} is not supported "
            f"(this deepmouse reads versions {', '.join(map(str, READABLE_VERSIONS))})"
        )
    check_metadata(path, meta)
    return meta


def _from_version_1(meta: dict, tensors: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """A version 1 file's metadata and tensors in the layout of version 2.

    Version 1 named the family ``params["model"]``, stored every estimator parameter whether
    the family took it or not, and prefixed the state's tensors with one word per family
    (``net.``, ``svm.``, ``rocket.``).
    """
    params = dict(meta["params"])
    family = params.pop("model")
    taken = get_family(family).parameters()
    meta = meta | {"family": family, "settings": {},
                   "params": {k: v for k, v in params.items() if k in taken}}
    renamed = {"scale": tensors["scale"]}
    renamed |= {STATE_PREFIX + k.split(".", 1)[1]: v for k, v in tensors.items() if "." in k}
    return meta, renamed


def load_model(path: str | os.PathLike, device: str | None = None) -> HandModel:
    """Load a model file written by :func:`save_model`; never executes code from the file.

    ``device`` (``auto``, ``cpu``, ``cuda``) overrides where a family that takes a device
    computes (default: the CPU).

    Raises:
        ModelFileError: missing, truncated, tampered or foreign file, or one whose family needs
            an extra that is not installed.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: truncated or corrupt model file ({exc})") from None
    if _digest(tensors) != meta["tensors_sha256"]:
        raise ModelFileError(f"{path}: weights do not match their checksum (file altered)")
    check_tensors(path, tensors, meta["format_version"])
    try:
        if meta["format_version"] == 1:
            meta, tensors = _from_version_1(meta, tensors)
        params = dict(meta["params"])
        if "device" in params:
            params["device"] = device or "cpu"
        window_config = WindowConfig(**meta["window"])
        state = FamilyState(
            arrays={k[len(STATE_PREFIX):]: v for k, v in tensors.items()
                    if k.startswith(STATE_PREFIX)},
            settings=dict(meta["settings"]),
        )
        clf = HandClassifier.from_state(meta["family"], params, tensors["scale"],
                                        window_config.window, state)
        constants = meta.get("decision")
        decision = None if constants is None else DecisionModel(**constants)
        probe = np.random.default_rng(0).normal(0.0, 5.0, (1, window_config.window, 2))
        clf.predict_proba(probe)  # a score that is not finite raises NonFiniteScoreError
    except MissingDependencyError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: inconsistent model file ({first})") from None
    return HandModel(clf, window_config, meta["provenance"], tuple(meta["classes"]),
                     decision)
