"""A scikit-learn estimator over movement windows: :class:`HandClassifier`.

``X`` is always raw movement in pixels per step, ``(n_windows, window, 2)``, as produced by
:mod:`deepmouse.windows`; ``y`` is 0 = right, 1 = left. The estimator learns its normalisation
constants (``scale_``) from the ``X`` given to :meth:`HandClassifier.fit`, so it works inside
``sklearn.model_selection.cross_val_score`` without leaking across folds.

Families: the torch networks of :mod:`deepmouse.models` (``stroke-cnn``, ``lstm``, ``gru``,
``conv-gru``); ``svm`` — an RBF SVC on the flattened normalised window (DeepMouse iteration 05);
``rocket`` — MiniRocket features + ridge (:mod:`deepmouse.rocket`, needs aeon).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from deepmouse.models import TORCH_FAMILIES, ModelConfig, build_model
from deepmouse.train import TrainConfig, TrainResult, predict_logits, resolve_device, train_model
from deepmouse.windows import fit_scale

ARRAY_FAMILIES = ("svm", "rocket")
"""Families whose fitted state is a dict of arrays (``svm_``, ``rocket_``), not a network."""
FAMILIES = (*TORCH_FAMILIES, *ARRAY_FAMILIES)
DEFAULT_FAMILY = "stroke-cnn"
"""The default model: best dev accuracy on the real DeepMouse recordings (benchmarks/RESULTS.md)."""

_RECURRENT = {"hidden": 64, "conv_layers": 0, "dropout": 0.1, "augment": 0.0,
              "epochs": 30, "batch_size": 32, "lr": 3e-3}
FAMILY_DEFAULTS: dict[str, dict] = {
    "stroke-cnn": {"hidden": 32, "conv_layers": 4, "dropout": 0.3, "augment": 0.25,
                   "epochs": 10, "batch_size": 64, "lr": 3e-3},
    "conv-gru": _RECURRENT | {"conv_layers": 3},
    "gru": _RECURRENT,
    "lstm": _RECURRENT,
    "svm": {},
    "rocket": {},
}
"""What a parameter left at ``None`` means, per family (DeepMouse's later conv-gru: 3 conv
blocks and a GRU 64; stroke-cnn: the settings chosen on dev, see the README)."""


def check_windows(X: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``X`` ``(n_windows, window, 2)`` (finite) and ``y`` ``(n_windows,)`` in {0, 1}."""
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


def fit_svm(
    X: np.ndarray, y: np.ndarray, C: float, gamma: str | float, seed: int
) -> dict[str, np.ndarray]:
    """Fit an RBF SVC on flat windows ``(n, features)`` and a Platt sigmoid on its scores.

    The sigmoid is fit on out-of-fold decision values (3-fold), so the probabilities are not
    overconfident on the training windows. Returns plain arrays (what the model file stores):
    support_vectors ``(n_sv, features)``, dual_coef ``(n_sv,)``, and scalars intercept, gamma,
    platt_a, platt_b.
    """
    svc = SVC(C=C, gamma=gamma)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    scores = cross_val_predict(svc, X, y, cv=folds, method="decision_function")
    platt = LogisticRegression().fit(scores.reshape(-1, 1), y)
    svc.fit(X, y)
    return {
        "support_vectors": svc.support_vectors_.astype(np.float32),
        "dual_coef": svc.dual_coef_[0].astype(np.float64),
        "intercept": np.array([svc.intercept_[0]]),
        "gamma": np.array([svc._gamma]),
        "platt_a": np.array([platt.coef_[0, 0]]),
        "platt_b": np.array([platt.intercept_[0]]),
    }


def svm_log_odds(svm: dict[str, np.ndarray], X: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Left-hand log-odds ``(n,)`` of flat windows ``(n, features)`` from :func:`fit_svm` arrays."""
    sv = svm["support_vectors"].astype(np.float64)
    sv_sq = (sv * sv).sum(1)
    out = []
    for i in range(0, len(X), chunk):
        x = X[i : i + chunk].astype(np.float64)
        d2 = (x * x).sum(1)[:, None] + sv_sq[None, :] - 2 * x @ sv.T
        score = np.exp(-svm["gamma"][0] * np.maximum(d2, 0)) @ svm["dual_coef"]
        out.append(svm["platt_a"][0] * (score + svm["intercept"][0]) + svm["platt_b"][0])
    return np.concatenate(out) if out else np.zeros(0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


class HandClassifier(ClassifierMixin, BaseEstimator):
    """Left/right hand classifier over movement windows.

    Parameters:
        model: ``stroke-cnn`` (the default), ``conv-gru``, ``gru``, ``lstm``, ``svm`` or
            ``rocket``.
        hidden, conv_layers, conv_filters, dropout, l1, l2: network architecture
            (see :class:`deepmouse.models.ModelConfig`).
        epochs, batch_size, lr, seed, device, patience, augment, threads: training
            (see :class:`deepmouse.train.TrainConfig`).
        C, gamma: SVC parameters (``svm`` only).
        n_kernels: MiniRocket features (``rocket`` only).

        ``hidden``, ``conv_layers``, ``dropout``, ``augment``, ``epochs``, ``batch_size`` and
        ``lr`` left at ``None`` take the family's default (:data:`FAMILY_DEFAULTS`);
        :meth:`resolved_params` shows the values used.

    Learned attributes:
        classes_: ``[0, 1]`` (0 = right, 1 = left).
        scale_: per-axis normalisation constants ``(2,)``.
        net_: the trained torch network (torch families).
        svm_: the SVC's arrays and Platt constants (``svm``, see :func:`fit_svm`).
        rocket_: MiniRocket, ridge and Platt arrays (``rocket``, see
            :func:`deepmouse.rocket.fit_rocket`).
        history_: per-epoch history rows; best_epoch_: the kept epoch.
    """

    def __init__(
        self,
        model: str = DEFAULT_FAMILY,
        hidden: int | None = None,
        conv_layers: int | None = None,
        conv_filters: int = 32,
        dropout: float | None = None,
        l1: float = 0.0,
        l2: float = 0.0,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        seed: int = 0,
        device: str = "auto",
        patience: int | None = None,
        augment: float | None = None,
        threads: int | None = 1,
        C: float = 1.0,
        gamma: str | float = "scale",
        n_kernels: int = 10_000,
    ) -> None:
        self.model = model
        self.hidden = hidden
        self.conv_layers = conv_layers
        self.conv_filters = conv_filters
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.patience = patience
        self.augment = augment
        self.threads = threads
        self.C = C
        self.gamma = gamma
        self.n_kernels = n_kernels

    # -- configs --------------------------------------------------------------------------
    def resolved_params(self) -> dict:
        """``get_params()`` with every ``None`` replaced by the family's default."""
        if self.model not in FAMILIES:
            raise ValueError(f"unknown model {self.model!r} (expected {', '.join(FAMILIES)})")
        defaults = FAMILY_DEFAULTS[self.model]
        return {k: defaults.get(k, v) if v is None else v for k, v in self.get_params().items()}

    def model_config(self) -> ModelConfig:
        params = self.resolved_params()
        names = {f.name for f in fields(ModelConfig)} - {"kind"}
        return ModelConfig(kind=self.model, **{n: params[n] for n in names})

    def train_config(self) -> TrainConfig:
        params = self.resolved_params()
        names = {f.name for f in fields(TrainConfig)}
        return TrainConfig(**{n: params[n] for n in names})

    def check_params(self) -> None:
        """Raise ValueError for an unknown family or bad architecture/training parameters."""
        self.resolved_params()
        if self.model == "rocket" and self.n_kernels < 84:
            raise ValueError(f"n_kernels must be >= 84 (MiniRocket's 84 kernels), got "
                             f"{self.n_kernels}")
        if self.model not in ARRAY_FAMILIES:
            self.model_config()
            self.train_config()

    def min_window(self) -> int:
        """The shortest window this model can take: ``conv-gru`` halves it per conv block,
        MiniRocket's kernels span 9 steps."""
        params = self.resolved_params()
        if self.model == "conv-gru":
            return max(2, 2 ** params["conv_layers"])
        if self.model == "rocket":
            from deepmouse.rocket import MIN_WINDOW

            return MIN_WINDOW
        return 2

    def check_window(self, window: int) -> None:
        """Raise ValueError if windows of ``window`` steps are too short for this model."""
        shortest = self.min_window()
        if window < shortest:
            raise ValueError(
                f"the {self.model} model needs windows of at least {shortest} steps, got {window}"
            )

    # -- estimator contract ---------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_dev: np.ndarray | None = None,
        y_dev: np.ndarray | None = None,
        on_epoch=None,
        checkpoint=None,
    ) -> HandClassifier:
        """Learn ``scale_`` from ``X`` and train; ``X_dev``/``y_dev`` pick the best epoch.

        ``on_epoch`` is called with each epoch's history row; ``checkpoint`` (a path) makes a
        torch model's training resumable (see :func:`deepmouse.train.train_model`).
        """
        self.check_params()
        X, y = check_windows(X, y)
        self.check_window(X.shape[1])
        self.scale_ = fit_scale(X)
        self.classes_ = np.array([0, 1])
        self.window_ = X.shape[1]
        Xn = self._normalise(X)
        if X_dev is not None and y_dev is not None and len(y_dev):
            X_dev = self._normalise(check_windows(X_dev)[0])
            y_dev = np.asarray(y_dev, dtype=np.int64)
        else:
            X_dev = y_dev = None
        if self.model in ARRAY_FAMILIES:
            if self.model == "svm":
                self.svm_ = fit_svm(Xn.reshape(len(Xn), -1), y, self.C, self.gamma, self.seed)
            else:
                from deepmouse.rocket import fit_rocket

                self.rocket_ = fit_rocket(Xn, y, self.n_kernels, self.seed)
            self.history_, self.best_epoch_ = [], 0
            return self
        import torch

        torch.manual_seed(self.seed)
        self.net_ = build_model(self.model_config())
        result: TrainResult = train_model(
            self.net_, self.train_config(), Xn, y, X_dev, y_dev, on_epoch, checkpoint
        )
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        self.device_ = resolve_device(self.device)
        return self

    def _normalise(self, X: np.ndarray) -> np.ndarray:
        return (X / self.scale_).astype(np.float32)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Left-hand log-odds ``(n_windows,)`` of raw windows ``(n_windows, window, 2)``."""
        check_is_fitted(self, "scale_")
        X, _ = check_windows(X)
        if X.shape[1] != self.window_:
            raise ValueError(f"model expects windows of {self.window_} steps, got {X.shape[1]}")
        Xn = self._normalise(X)
        if self.model == "svm":
            return svm_log_odds(self.svm_, Xn.reshape(len(Xn), -1))
        if self.model == "rocket":
            from deepmouse.rocket import rocket_log_odds

            return rocket_log_odds(self.rocket_, Xn)
        return predict_logits(self.net_, Xn, self.device_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n_windows, 2)`` probabilities: column 0 right hand, column 1 left hand."""
        p_left = _sigmoid(self.decision_function(X).astype(np.float64))
        return np.column_stack([1 - p_left, p_left])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class index per window ``(n_windows,)``: 0 = right, 1 = left."""
        return (self.decision_function(X) > 0).astype(np.int64)
