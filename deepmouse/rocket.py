"""The ``rocket`` family: MiniRocket features + a ridge classifier (Dempster et al., 2021).

MiniRocket (from `aeon <https://www.aeon-toolkit.org>`_, the ``rocket`` extra) convolves each
window with 84 fixed kernels at several dilations and keeps, per kernel, dilation and bias, the
proportion of positive values (~10,000 features). A ridge classifier with a cross-validated
penalty separates the hands, and a Platt sigmoid fitted on its out-of-fold scores turns the
ridge score into calibrated log-odds, so windows combine over time like the other families'.

The network of the other families sees ``(dx, dy)``; MiniRocket also sees the *path* within the
window (cumulative movement), which its convolutions cannot build from steps alone.

Everything fitted is plain arrays (what the model file stores, no pickle): the transform's
``channels_per_combination``, ``channel_indices``, ``dilations``, ``features_per_dilation`` and
``biases``; ``feature_scale`` ``(n_features,)``; ridge ``coef`` ``(n_features,)`` and
``intercept``; ``platt_a``, ``platt_b``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgWarning

PARAMETER_NAMES = (
    "channels_per_combination", "channel_indices", "dilations", "features_per_dilation", "biases",
)
RIDGE_ALPHAS = np.logspace(-3, 3, 10)
MIN_WINDOW = 9
"""MiniRocket's kernels span 9 steps: the shortest window it takes."""


def _aeon():
    try:
        from aeon.transformations.collection.convolution_based import _minirocket
    except ImportError:
        raise ImportError(
            "the rocket family needs aeon: pip install 'deepmouse[rocket]'"
        ) from None
    return _minirocket


def rocket_input(X: np.ndarray) -> np.ndarray:
    """Normalised windows ``(n, window, 2)`` → MiniRocket input ``(n, 4, window)`` float32.

    Channels: dx, dy, and the path x, y (cumulative movement from the window's start).
    """
    X = np.asarray(X, dtype=np.float32)
    return np.ascontiguousarray(
        np.concatenate([X, np.cumsum(X, axis=1)], -1).transpose(0, 2, 1), dtype=np.float32
    )


def rocket_features(rocket: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """MiniRocket features ``(n, n_features)`` of normalised windows ``(n, window, 2)``."""
    minirocket = _aeon()
    parameters = tuple(rocket[name] for name in PARAMETER_NAMES)
    return minirocket._static_transform_multi(
        rocket_input(X), parameters, minirocket.MiniRocket._indices
    )


def fit_rocket(X: np.ndarray, y: np.ndarray, n_kernels: int, seed: int) -> dict[str, np.ndarray]:
    """Fit MiniRocket, the ridge and the Platt sigmoid on normalised windows ``(n, window, 2)``,
    ``window >= MIN_WINDOW`` (checked by :meth:`HandClassifier.check_window`).

    Returns the arrays listed in the module docstring.
    """
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, RidgeClassifierCV
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    minirocket = _aeon()
    transform = minirocket.MiniRocket(n_kernels=n_kernels, random_state=seed)
    transform.fit(rocket_input(X))
    fitted = zip(PARAMETER_NAMES, transform.parameters, strict=True)
    rocket = {name: np.asarray(value) for name, value in fitted}
    features = rocket_features(rocket, X)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0).astype(np.float32)
    features /= scale
    with warnings.catch_warnings():  # a small penalty on 10k features: expected, harmless
        warnings.simplefilter("ignore", LinAlgWarning)
        ridge = RidgeClassifierCV(alphas=RIDGE_ALPHAS).fit(features, y)
        # Platt sigmoid on out-of-fold ridge scores (3 folds), so that the training windows do
        # not make the probabilities overconfident.
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        oof = cross_val_predict(RidgeClassifier(alpha=ridge.alpha_), features, y, cv=folds,
                                method="decision_function")
    platt = LogisticRegression().fit(oof.reshape(-1, 1), y)
    rocket.update({
        "feature_scale": scale,
        "coef": np.ravel(ridge.coef_).astype(np.float64),
        "intercept": np.ravel(ridge.intercept_)[:1].astype(np.float64),
        "platt_a": np.array([platt.coef_[0, 0]]),
        "platt_b": np.array([platt.intercept_[0]]),
    })
    return rocket


def rocket_log_odds(rocket: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Left-hand log-odds ``(n,)`` of normalised windows ``(n, window, 2)``."""
    if len(X) == 0:
        return np.zeros(0)
    features = rocket_features(rocket, X) / rocket["feature_scale"]
    score = features.astype(np.float64) @ rocket["coef"] + rocket["intercept"][0]
    return rocket["platt_a"][0] * score + rocket["platt_b"][0]
