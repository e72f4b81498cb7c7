"""What a model family is, and the registry of families.

A family is one object, defined in one module, that owns everything about one kind of model:

- ``name`` and a one-line ``summary`` (the command line's help lists them);
- ``defaults``: every parameter it takes, with its default value (a parameter left at ``None``
  by the user takes this value);
- ``train_stride``: the step between training windows, as a fraction of the window (dev, test
  and evaluation windows never overlap);
- :meth:`Family.min_window`, :meth:`Family.check_params`: what it accepts;
- :meth:`Family.search_space`: its ``tune`` search space (Optuna, define-by-run);
- :meth:`Family.fit`: *normalised* windows ``(n, window, 2)``, labels and parameters →
  :class:`FamilyState` (arrays and JSON-able settings: what the model file stores);
- :meth:`Family.restore`: the state read back from a model file, checked and ready to score;
- :meth:`Family.log_odds`: state and normalised windows → left-hand log-odds ``(n,)``.

Nothing else in deepmouse branches on a family's name: :class:`~deepmouse.classifier.
HandClassifier`, the model file, the pipeline, search, the command line and the benchmarks all go
through this contract. A new family is one module with one ``register(...)`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_FAMILY = "ensemble"
"""The default model: stroke-cnn and rocket, their log-odds averaged. Chosen for its sequential
decision in 5 of 6 mouse session folds, each time on the other five (benchmarks/sequential.py,
"Choosing the family, nested" in benchmarks/RESULTS.md), and the only family whose decisions
on the touchpad's last 15% are right at least 95% of the time."""

COMMON_PARAMETERS: dict[str, Any] = {"seed": 0}
"""Parameters every family takes (``seed``: same seed and data, same model)."""
RUNTIME_DEFAULTS: dict[str, Any] = {"device": "auto", "threads": 1}
"""Parameters that say where a model computes, not what it is (the families that compute with
torch take them): a run that starts from a trained model takes its own, not the ones the model
was trained with."""
RUNTIME_PARAMETERS = tuple(RUNTIME_DEFAULTS)
MAX_SEED = 2**32 - 1
"""The largest seed: NumPy's global seeding and scikit-learn take 32 bits."""


class MissingDependencyError(ImportError):
    """A family needs an optional package that is not installed (names the extra to install)."""


@dataclass
class FamilyState:
    """What fitting a family produced.

    Attributes:
        arrays: the fitted arrays by name (the model file's tensors).
        settings: JSON-able fitted values that are not arrays (the model file's metadata).
        history: one row per epoch for families that train in epochs (``epoch``,
            ``train_loss``, ``train_accuracy``, ``dev_loss``, ``dev_accuracy``, ``seconds``).
        best_epoch: the epoch whose weights were kept (0 for families without epochs).
        runtime: what the family builds from the arrays to score fast (e.g. a torch network);
            never saved.
    """

    arrays: dict[str, np.ndarray]
    settings: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    runtime: dict = field(default_factory=dict, repr=False, compare=False)


EpochCallback = Callable[[dict], None]


class Family:
    """Base class of a model family; subclasses override what differs (see the module doc)."""

    name: str = ""
    summary: str = ""
    defaults: dict[str, Any] = {}
    train_stride: float = 1.0
    extra: str | None = None
    """The pip extra a family needs beyond deepmouse's dependencies (``None``: none)."""
    session_spread: float | None = None
    """Floor of the spread of session offsets in its log-odds, as a fraction of ``mu ** 2``
    (:func:`deepmouse.decision.fit_decision_model`; ``None``: the default floor)."""
    fine_tune_defaults: dict[str, Any] = {}
    """Parameters a fine-tuning run (:meth:`fine_tune`, ``train --init``) takes in place of the
    family's defaults when they are not given."""

    def parameters(self) -> dict[str, Any]:
        """Every parameter with its default: :data:`COMMON_PARAMETERS` and :attr:`defaults`."""
        return COMMON_PARAMETERS | self.defaults

    def check_available(self, params: dict | None = None) -> None:
        """Raise :class:`MissingDependencyError` if an optional package that the family (with
        ``params``, when they matter) needs is missing."""

    def check_params(self, params: dict) -> None:
        """Raise ValueError for a bad value among resolved ``params``."""

    def parameter_hint(self, names: list[str]) -> str:
        """What to tell a user who gave ``names``, which the family does not take (appended to
        the error; empty: nothing to add)."""
        return ""

    def validate(self, params: dict) -> None:
        """Check resolved ``params``: exactly the family's names, each of a type its default can
        stand for, then the family's own :meth:`check_params`.

        Raises:
            ValueError: a missing or unknown parameter, a value of the wrong type or out of
                range (also one the family could not even compare).
        """
        defaults = self.parameters()
        missing = sorted(set(defaults) - set(params))
        unknown = sorted(set(params) - set(defaults))
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else [])
            raise ValueError(f"parameters of the {self.name} family: {'; '.join(parts)}")
        for name, value in params.items():
            check_type(self.name, name, value, defaults[name])
        if not 0 <= params["seed"] <= MAX_SEED:
            raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {params['seed']}")
        try:
            self.check_params(params)
        except TypeError as exc:  # a value of a type the family cannot compare or build with
            raise ValueError(f"bad parameter of the {self.name} family: {exc}") from None

    def min_window(self, params: dict) -> int:
        """The shortest window (in steps) this family can take with ``params``."""
        return 2

    def progress_total(self, params: dict) -> int:
        """How many times :meth:`fit` calls ``on_epoch`` (the length of a progress bar)."""
        return 1

    def search_space(self, trial) -> dict:
        """Parameters for one Optuna ``trial`` (define-by-run)."""
        raise ValueError(f"the {self.name} family has no search space to tune")

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        params: dict,
        dev: tuple[np.ndarray, np.ndarray] | None = None,
        on_epoch: EpochCallback | None = None,
        checkpoint=None,
    ) -> FamilyState:
        """Fit on normalised windows ``X`` ``(n, window, 2)`` and labels ``y`` ``(n,)`` in {0, 1}.

        ``dev`` (windows, labels) may pick the kept epoch; ``on_epoch`` is called with each
        epoch's history row; ``checkpoint`` (a path) makes a long fit resumable: a fit given an
        existing checkpoint continues from it. A family may write more checkpoints beside it,
        named ``<stem>.<anything><suffix>`` (the run removes them with it).
        """
        raise NotImplementedError

    def fine_tune(
        self,
        X: np.ndarray,
        y: np.ndarray,
        params: dict,
        init: FamilyState,
        dev: tuple[np.ndarray, np.ndarray] | None = None,
        on_epoch: EpochCallback | None = None,
        checkpoint=None,
    ) -> FamilyState:
        """Like :meth:`fit`, starting from the fitted state ``init`` of a model with the same
        architecture (see :meth:`check_init`) instead of from scratch.

        Raises:
            ValueError: the family cannot start from a fitted model.
        """
        raise ValueError(f"the {self.name} family cannot start from a trained model: train it "
                         "from scratch (without --init)")

    def check_init(self, init_params: dict, params: dict) -> None:
        """Raise ValueError unless a model fitted with ``init_params`` can be fine-tuned with
        ``params`` (the same architecture; training settings may differ)."""
        raise ValueError(f"the {self.name} family cannot start from a trained model: train it "
                         "from scratch (without --init)")

    def restore(self, state: FamilyState, params: dict) -> FamilyState:
        """A state read from a model file, checked and prepared for :meth:`log_odds`.

        Raises:
            ValueError: arrays missing or of the wrong shape for ``params``.
        """
        return state

    def log_odds(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        """Left-hand log-odds ``(n,)`` of normalised windows ``X`` ``(n, window, 2)``."""
        raise NotImplementedError

    def log_odds_one(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        """:meth:`log_odds` of a single window ``X`` ``(1, window, 2)`` → ``(1,)``.

        The live predictor scores one window at a time; a family whose batch path is slow for
        a batch of one overrides this with a path of its own, equal to :meth:`log_odds` up to
        float32 rounding.
        """
        return self.log_odds(state, X)


def check_type(family: str, name: str, value, default) -> None:
    """Refuse a value whose type cannot stand for ``default``'s: a finite number where the
    default is a number (an integer where it is an integer or ``None``), never a bool; a string
    or a number where it is a string (``svm``'s ``gamma`` is ``"scale"`` or a number, which the
    family's own check bounds)."""
    if isinstance(default, str):
        if not isinstance(value, str) and not _is_number(value):
            raise ValueError(f"{name} of the {family} family must be a string, got {value!r}")
        return
    numeric = isinstance(default, int | float) and not isinstance(default, bool)
    if not numeric and default is not None:
        return
    whole = isinstance(default, int) or default is None
    if value is None and default is None:
        return
    allowed = int | np.integer if whole else int | float | np.integer | np.floating
    if not isinstance(value, allowed) or isinstance(value, bool):
        kind = "an integer" if whole else "a number"
        raise ValueError(f"{name} of the {family} family must be {kind}, got {value!r}")
    # NaN passes every "must be > 0" check and poisons the fit (an integer is always finite)
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        raise ValueError(f"{name} of the {family} family must be a finite number, got {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


FAMILIES: dict[str, Family] = {}
"""The registered families by name, in registration order."""


def register(family: Family) -> Family:
    """Add ``family`` to the registry (replacing one of the same name); return it."""
    if not family.name:
        raise ValueError("a family needs a name")
    bad = sorted(n for n in family.defaults if n == "family" or n.startswith("_")
                 or n.endswith("_"))
    if bad:
        raise ValueError(f"{family.name}: {', '.join(bad)} cannot name a parameter")
    unknown = set(family.defaults) & set(COMMON_PARAMETERS)
    if unknown:
        raise ValueError(f"{family.name}: {sorted(unknown)} are common parameters")
    FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family from the registry (a no-op for an unknown name)."""
    FAMILIES.pop(name, None)


def get_family(name: str) -> Family:
    """The registered family called ``name``.

    Raises:
        ValueError: no such family (the message lists the known ones).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown model family {name!r} (expected one of {', '.join(FAMILIES)})"
        ) from None


def platt_out_of_fold(estimator, X: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """Platt constants ``(a, b)`` so that ``a * score + b`` are calibrated log-odds.

    Fitted on the out-of-fold decision values of ``estimator`` (3 stratified folds, a clone
    fitted per fold), so that scores of windows the estimator was fitted on do not make the
    probabilities overconfident.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    scores = cross_val_predict(estimator, X, y, cv=folds, method="decision_function")
    platt = LogisticRegression().fit(scores.reshape(-1, 1), y)
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


def require_arrays(state: FamilyState, shapes: dict[str, tuple[int | None, ...]]) -> None:
    """Check that ``state.arrays`` holds exactly ``shapes``'s names, with those shapes.

    ``None`` in a shape matches any length on that axis.

    Raises:
        ValueError: a missing, extra or misshapen array.
    """
    missing = sorted(set(shapes) - set(state.arrays))
    extra = sorted(set(state.arrays) - set(shapes))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else [])
        raise ValueError(f"arrays {'; '.join(parts)}")
    for name, shape in shapes.items():
        actual = state.arrays[name].shape
        if len(actual) != len(shape) or any(
            s is not None and s != a for s, a in zip(shape, actual, strict=True)
        ):
            expected = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"array {name} has shape {actual}, expected {expected}")
