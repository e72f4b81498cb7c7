"""A scikit-learn estimator over movement windows: :class:`HandClassifier`.

``X`` is always raw movement in pixels per step, ``(n_windows, window, 2)``, as produced by
:mod:`deepmouse.windows`; ``y`` is 0 = right, 1 = left. The estimator learns its normalisation
constants (``scale_``) from the ``X`` given to :meth:`HandClassifier.fit`, so it works inside
``sklearn.model_selection.cross_val_score`` without leaking across folds.

What model it fits is its *family* (:mod:`deepmouse.families`): the estimator validates the
input, normalises it and delegates fitting and scoring to the family, whatever it is.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from deepmouse.families import (
    DEFAULT_FAMILY,
    FAMILIES,
    Family,
    FamilyState,
    get_family,
)
from deepmouse.windows import WindowConfig, fit_scale


class NonFiniteScoreError(ValueError):
    """A model scored a window as NaN or infinity: its weights are broken (e.g. a training run
    that diverged, or a file whose numbers are not finite), so none of its outputs mean
    anything."""


def validate_windows(
    X: np.ndarray, y: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Check ``X`` ``(n_windows, window, 2)`` (finite) and ``y`` ``(n_windows,)`` in {0, 1}.

    Returns ``X`` as float32 and ``y`` as int64 (empty when ``y`` is None).

    Raises:
        ValueError: what was expected and what was given.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[2] != 2:
        raise ValueError(f"expected windows of shape (n_windows, window, 2), got {X.shape}")
    if len(X) == 0:
        raise ValueError("expected at least one window, got 0")
    if not np.isfinite(X).all():
        raise ValueError("windows contain NaN or infinite values")
    if y is None:
        return X, np.zeros(0, np.int64)
    y = np.asarray(y).astype(np.int64).ravel()
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} windows but y has {len(y)} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (right) or 1 (left)")
    if len(np.unique(y)) < 2:
        raise ValueError("training needs windows of both hands; only one class present")
    return X, y


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


class HandClassifier(ClassifierMixin, BaseEstimator):
    """Left/right hand classifier over movement windows.

    Parameters:
        family: the model family (:data:`deepmouse.families.FAMILIES`): ``stroke-cnn`` (the
            default), ``conv-gru``, ``gru``, ``lstm``, ``svm``, ``rocket``, or one you
            registered.
        **params: the family's parameters (``get_family(family).parameters()`` lists them with
            their defaults; every family takes ``seed``). A parameter not given, or ``None``,
            takes the family's default; :meth:`resolved_params` shows the values used. A
            parameter the family does not take is refused by :meth:`set_params` and when
            fitting.

    Learned attributes:
        classes_: ``[0, 1]`` (0 = right, 1 = left).
        scale_: per-axis normalisation constants ``(2,)``.
        window_: window length (steps) the model was fitted on.
        state_: the fitted :class:`~deepmouse.families.FamilyState` (arrays and settings).
        history_: per-epoch history rows; best_epoch_: the kept epoch (0 without epochs).
    """

    def __init__(self, family: str = DEFAULT_FAMILY, **params) -> None:
        reserved = sorted(n for n in params if hasattr(type(self), n) or n.endswith("_"))
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: not a parameter name (a name of the "
                             "estimator itself)")
        self.family = family
        self._param_names = tuple(params)
        for name, value in params.items():
            setattr(self, name, value)

    # -- parameters (scikit-learn's get_params / set_params over the family's parameters) ---
    def _names(self) -> list[str]:
        known = list(FAMILIES[self.family].parameters()) if self.family in FAMILIES else []
        return known + [n for n in self._param_names if n not in known]

    def get_params(self, deep: bool = True) -> dict:
        """``family`` and every parameter of the family (``None`` where not given)."""
        return {"family": self.family, **{n: getattr(self, n, None) for n in self._names()}}

    def set_params(self, **params) -> HandClassifier:
        if "family" in params and params["family"] != self.family:
            self.family = params.pop("family")
            unset = [n for n in self._param_names if getattr(self, n, None) is None]
            for name in unset:  # the old family's defaults do not carry over
                delattr(self, name)
            self._param_names = tuple(n for n in self._param_names if n not in unset)
        params.pop("family", None)
        valid = set(self._names())
        for name, value in params.items():
            if name not in valid:
                hint = (self.family_object().parameter_hint([name])
                        if self.family in FAMILIES else "")
                raise ValueError(f"the {self.family} family takes no parameter {name!r} "
                                 f"(it takes {', '.join(sorted(valid))}){hint}")
            setattr(self, name, value)
            if name not in self._param_names:
                self._param_names += (name,)
        return self

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        given = {n: getattr(self, n) for n in self._names() if getattr(self, n, None) is not None}
        args = ", ".join(f"{k}={v!r}" for k, v in {"family": self.family, **given}.items())
        return f"{type(self).__name__}({args})"

    def family_object(self) -> Family:
        """The registered family this estimator fits (ValueError if unknown)."""
        return get_family(self.family)

    def resolved_params(self) -> dict:
        """Every parameter of the family, ``None`` replaced by the family's default.

        Raises:
            ValueError: unknown family, or a parameter the family does not take.
        """
        defaults = self.family_object().parameters()
        unknown = [n for n in self._param_names if n not in defaults
                   and getattr(self, n, None) is not None]
        if "model" in unknown:
            raise ValueError("the model family is given as family=..., not model=...")
        if unknown:
            raise ValueError(f"the {self.family} family takes no parameter "
                             f"{', '.join(unknown)} (it takes {', '.join(defaults)})"
                             + self.family_object().parameter_hint(unknown))
        values = {n: getattr(self, n, None) for n in defaults}
        return {n: defaults[n] if v is None else v for n, v in values.items()}

    def check_params(self) -> dict:
        """Validate the family and its parameters; return them resolved.

        Raises:
            ValueError: unknown family, unknown parameter or bad value.
        """
        params = self.resolved_params()
        self.family_object().validate(params)
        return params

    def check_available(self) -> None:
        """Raise :class:`~deepmouse.families.MissingDependencyError` (naming the extra to
        install) if the family needs a package that is not installed."""
        self.family_object().check_available(self.resolved_params())

    def min_window(self) -> int:
        """The shortest window (steps) this model takes."""
        return self.family_object().min_window(self.resolved_params())

    def check_window_length(self, window: int) -> None:
        """Raise ValueError if windows of ``window`` steps are too short for this model."""
        shortest = self.min_window()
        if window < shortest:
            raise ValueError(
                f"the {self.family} model needs windows of at least {shortest} steps, got {window}"
            )

    def window_config(self, **overrides) -> WindowConfig:
        """The :class:`WindowConfig` this model trains on: ``overrides`` (``window``, ``rate``,
        ``stride``, ``idle_threshold``; ``None`` = default) with the family's training stride
        unless ``stride`` is given."""
        given = {k: v for k, v in overrides.items() if v is not None}
        config = WindowConfig(**given)
        if "stride" not in given:
            config.stride = max(1, int(config.window * self.family_object().train_stride))
        return config

    # -- estimator contract ---------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_dev: np.ndarray | None = None,
        y_dev: np.ndarray | None = None,
        on_epoch=None,
        checkpoint=None,
        init: HandClassifier | None = None,
    ) -> HandClassifier:
        """Learn ``scale_`` from ``X`` ``(n, window, 2)`` and fit the family on ``y`` ``(n,)``.

        ``X_dev``/``y_dev`` let a family pick its best epoch; ``on_epoch`` is called with each
        epoch's history row; ``checkpoint`` (a path) makes a long fit resumable. With ``init``
        (a fitted estimator of the same family, architecture and window) the fit starts from
        its state and keeps its ``scale_`` (fine-tuning), where the family can.

        Raises:
            ValueError: bad parameters or windows; ``init`` of another family, architecture or
                window, or of a family that cannot be fine-tuned.
        """
        params = self.check_params()
        X, y = validate_windows(X, y)
        self.check_window_length(X.shape[1])
        self.check_available()
        family = self.family_object()
        if init is not None:
            check_is_fitted(init, "state_")
            if init.family != self.family:
                raise ValueError(f"cannot fine-tune a {self.family} model from a {init.family} "
                                 "model")
            family.check_init(init.resolved_params(), params)
            if init.window_ != X.shape[1]:
                raise ValueError(f"the model to start from takes windows of {init.window_} "
                                 f"steps, got {X.shape[1]}")
        self.scale_ = init.scale_.copy() if init is not None else self._learn_scale(X)
        self.classes_ = np.array([0, 1])
        self.window_ = X.shape[1]
        dev = None
        if X_dev is not None and y_dev is not None and len(y_dev):
            dev = (self._normalise(validate_windows(X_dev)[0]), np.asarray(y_dev, np.int64))
        if init is None:
            state = family.fit(self._normalise(X), y, params, dev, on_epoch, checkpoint)
        else:
            state = family.fine_tune(self._normalise(X), y, params, init.state_, dev, on_epoch,
                                     checkpoint)
        self._set_state(state)
        return self

    @classmethod
    def from_state(
        cls,
        family: str,
        params: dict,
        scale: np.ndarray,
        window: int,
        state: FamilyState,
    ) -> HandClassifier:
        """A fitted estimator from saved parts (what :func:`deepmouse.modelfile.load_model`
        reads): the family checks the state's arrays against ``params``.

        Raises:
            ValueError: bad parameters or arrays that do not fit them.
            MissingDependencyError: the family needs an extra that is not installed.
        """
        clf = cls(family, **params)
        resolved = clf.check_params()
        clf.check_available()
        clf.scale_ = np.asarray(scale, dtype=np.float64)
        clf.classes_ = np.array([0, 1])
        clf.window_ = int(window)
        clf._set_state(clf.family_object().restore(state, resolved))
        return clf

    def _learn_scale(self, X: np.ndarray) -> np.ndarray:
        """Per-axis normalisation constants ``(2,)`` for training windows ``X``: the train
        split's std of the movement (:func:`~deepmouse.windows.fit_scale`). A subclass may return
        fixed constants instead (benchmarks/deepmouse_reproduction.py divides by DeepMouse's)."""
        return fit_scale(X)

    def _set_state(self, state: FamilyState) -> None:
        self.state_ = state
        self.history_, self.best_epoch_ = state.history, state.best_epoch

    def _normalise(self, X: np.ndarray) -> np.ndarray:
        return (X / self.scale_).astype(np.float32)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Left-hand log-odds ``(n_windows,)`` of raw windows ``(n_windows, window, 2)``."""
        return self._scores(X, one=False)

    def decision_function_one(self, X: np.ndarray) -> np.ndarray:
        """:meth:`decision_function` of a single window ``(1, window, 2)`` → ``(1,)``, by the
        family's one-window path (:meth:`~deepmouse.families.base.Family.log_odds_one`): equal
        up to float32 rounding, much cheaper for the live predictor's one window per update."""
        return self._scores(X, one=True)

    def _scores(self, X: np.ndarray, one: bool) -> np.ndarray:
        check_is_fitted(self, "state_")
        X, _ = validate_windows(X)
        if X.shape[1] != self.window_:
            raise ValueError(f"model expects windows of {self.window_} steps, got {X.shape[1]}")
        family = self.family_object()
        if one:
            if len(X) != 1:
                raise ValueError(f"expected a single window, got {len(X)}")
            z = family.log_odds_one(self.state_, self._normalise(X))
        else:
            z = family.log_odds(self.state_, self._normalise(X))
        # every score passes here (predict_proba, predict, live, evaluate): a NaN would
        # otherwise become a "probability" or an accuracy that means nothing
        broken = int(np.count_nonzero(~np.isfinite(z)))
        if broken:
            raise NonFiniteScoreError(
                f"the model scores {broken} of {len(z)} window(s) as NaN or infinity: its "
                f"weights are broken (retrain it)"
            )
        return z

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n_windows, 2)`` probabilities: column 0 right hand, column 1 left hand."""
        p_left = _sigmoid(self.decision_function(X).astype(np.float64))
        return np.column_stack([1 - p_left, p_left])

    def predict_proba_one(self, X: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of a single window ``(1, window, 2)`` → ``(1, 2)``, by
        :meth:`decision_function_one`."""
        p_left = _sigmoid(self.decision_function_one(X).astype(np.float64))
        return np.column_stack([1 - p_left, p_left])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class index per window ``(n_windows,)``: 0 = right, 1 = left."""
        return (self.decision_function(X) > 0).astype(np.int64)
