"""The ``rocket`` family: MiniRocket features + a ridge classifier (Dempster et al., 2021).

MiniRocket (from `aeon <https://www.aeon-toolkit.org>`_) convolves each
window with 84 fixed kernels at several dilations and keeps, per kernel, dilation and bias, the
proportion of positive values (~10,000 features). A ridge classifier with a cross-validated
penalty separates the hands, and a Platt sigmoid fitted on its out-of-fold scores turns the
ridge score into calibrated log-odds, so windows combine over time like the other families'.

The network of the other families sees ``(dx, dy)``; MiniRocket also sees the *path* within the
window (cumulative movement), which its convolutions cannot build from steps alone.

State arrays (plain arrays, what the model file stores, no pickle): the transform's
``channels_per_combination``, ``channel_indices``, ``dilations``, ``features_per_dilation`` and
``biases``; ``feature_scale`` ``(n_features,)``; ridge ``coef`` ``(n_features,)`` and
``intercept`` ``(1,)``; ``platt_a``, ``platt_b`` ``(1,)``.
"""

from __future__ import annotations

import warnings

import numpy as np

from deepmouse.families.base import (
    Family,
    FamilyState,
    MissingDependencyError,
    platt_out_of_fold,
    register,
    require_arrays,
)

PARAMETER_NAMES = (
    "channels_per_combination", "channel_indices", "dilations", "features_per_dilation", "biases",
)
RIDGE_ALPHAS = np.logspace(-3, 3, 10)
MIN_WINDOW = 9
"""MiniRocket's kernels span 9 steps: the shortest window it takes."""
MIN_KERNELS = 84
"""MiniRocket's fixed kernels: ``n_kernels`` below this cannot be honoured."""
N_CHANNELS = 4
"""Channels of MiniRocket's input: dx, dy and the path x, y (:func:`rocket_input`)."""


def _minirocket():
    try:
        from aeon.transformations.collection.convolution_based import _minirocket
    except ImportError:
        raise MissingDependencyError(
            "the rocket family needs aeon, a dependency of deepmouse missing from this install: "
            "pip install 'aeon>=1.0,<1.7'"
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


def rocket_features(arrays: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """MiniRocket features ``(n, n_features)`` of normalised windows ``(n, window, 2)``.

    Raises:
        ValueError: windows too short for the largest dilation (the kernels would reach past
            both ends).
    """
    minirocket = _minirocket()
    check_window(arrays, X)
    parameters = tuple(arrays[name] for name in PARAMETER_NAMES)
    return minirocket._static_transform_multi(
        rocket_input(X), parameters, minirocket.MiniRocket._indices
    )


def check_window(arrays: dict[str, np.ndarray], X: np.ndarray) -> None:
    """Raise ValueError if windows ``X`` ``(n, window, 2)`` are too short for the largest
    dilation (the kernels would reach past both ends)."""
    reach = 8 * int(arrays["dilations"].max())
    if X.shape[1] <= reach:
        raise ValueError(f"windows of {X.shape[1]} steps are too short for MiniRocket kernels "
                         f"reaching {reach} steps")


def check_kernels(arrays: dict[str, np.ndarray]) -> None:
    """Check that MiniRocket's arrays are consistent with one another, since the compiled
    transform indexes them without bounds checks.

    Raises:
        ValueError: an array of the wrong kind or length, or an index out of range.
    """
    for name in ("channels_per_combination", "channel_indices", "dilations",
                 "features_per_dilation"):
        if arrays[name].dtype.kind not in "iu":
            raise ValueError(f"array {name} must hold integers, got {arrays[name].dtype}")
    dilations, per_dilation = arrays["dilations"], arrays["features_per_dilation"]
    combinations, channels = arrays["channels_per_combination"], arrays["channel_indices"]
    n_kernels = MIN_KERNELS
    if len(dilations) == 0 or len(per_dilation) != len(dilations):
        raise ValueError("dilations and features_per_dilation must be non-empty and of one length")
    if dilations.min() < 1 or per_dilation.min() < 1:
        raise ValueError("dilations and features_per_dilation must be >= 1")
    if len(combinations) != n_kernels * len(dilations):
        raise ValueError(f"channels_per_combination must hold {n_kernels} per dilation")
    if combinations.min() < 1 or combinations.max() > N_CHANNELS:
        raise ValueError(f"channels_per_combination must be 1-{N_CHANNELS}")
    if len(channels) != int(combinations.sum()):
        raise ValueError("channel_indices must hold one index per channel of every combination")
    if channels.min() < 0 or channels.max() >= N_CHANNELS:
        raise ValueError(f"channel_indices must be 0-{N_CHANNELS - 1}")
    n_features = n_kernels * int(per_dilation.sum())
    for name in ("biases", "feature_scale", "coef"):
        if len(arrays[name]) != n_features:
            raise ValueError(f"array {name} must hold {n_features} values (one per feature), "
                             f"got {len(arrays[name])}")
    if not (arrays["feature_scale"] > 0).all():
        raise ValueError("feature_scale must be > 0")


def head_arrays(scale, coef, intercept, platt_a: float, platt_b: float) -> dict[str, np.ndarray]:
    """The arrays of the classifier on the features: scale, ridge and Platt sigmoid."""
    return {
        "feature_scale": np.asarray(scale, dtype=np.float32),
        "coef": np.ravel(coef).astype(np.float64),
        "intercept": np.ravel(intercept)[:1].astype(np.float64),
        "platt_a": np.array([platt_a]),
        "platt_b": np.array([platt_b]),
    }


class RocketFamily(Family):
    name = "rocket"
    summary = "MiniRocket + ridge, the strong generic time-series baseline"
    defaults = {"n_kernels": 10_000}
    # its sessions' offsets spread less than the networks': chosen on held-out mouse sessions
    # by benchmarks/sequential.py (RESULTS.md)
    session_spread = 0.05

    def check_available(self, params: dict | None = None) -> None:
        _minirocket()

    def check_params(self, params: dict) -> None:
        if params["n_kernels"] < MIN_KERNELS:
            raise ValueError(f"n_kernels must be >= {MIN_KERNELS} (MiniRocket's kernels), got "
                             f"{params['n_kernels']}")

    def min_window(self, params: dict) -> int:
        return MIN_WINDOW

    def search_space(self, trial) -> dict:
        # the ridge penalty is cross-validated inside the fit
        return {"n_kernels": trial.suggest_int("n_kernels", 1_000, 20_000, log=True)}

    def fit(self, X, y, params, dev=None, on_epoch=None, checkpoint=None) -> FamilyState:
        """Fit MiniRocket, the ridge and the Platt sigmoid on normalised windows."""
        from scipy.linalg import LinAlgWarning
        from sklearn.linear_model import RidgeClassifier, RidgeClassifierCV

        minirocket = _minirocket()
        seed = params["seed"]
        transform = minirocket.MiniRocket(n_kernels=params["n_kernels"], random_state=seed)
        transform.fit(rocket_input(X))
        fitted = zip(PARAMETER_NAMES, transform.parameters, strict=True)
        arrays = {name: np.asarray(value) for name, value in fitted}
        features = rocket_features(arrays, X)
        scale = features.std(axis=0)
        scale = np.where(scale > 1e-8, scale, 1.0).astype(np.float32)
        features /= scale
        with warnings.catch_warnings():  # a small penalty on 10k features: expected, harmless
            warnings.simplefilter("ignore", LinAlgWarning)
            ridge = RidgeClassifierCV(alphas=RIDGE_ALPHAS).fit(features, y)
            platt_a, platt_b = platt_out_of_fold(
                RidgeClassifier(alpha=ridge.alpha_), features, y, seed
            )
        arrays.update(head_arrays(scale, ridge.coef_, ridge.intercept_, platt_a, platt_b))
        return FamilyState(arrays)

    def fine_tune(self, X, y, params, init, dev=None, on_epoch=None,
                  checkpoint=None) -> FamilyState:
        """Keep the kernels and feature scale of ``init``; refit the ridge on the new windows
        with its penalty pulling the weights toward ``init``'s instead of toward zero
        (:class:`~deepmouse.families.ridge.RidgeFrom`), so that few windows adjust the model
        rather than replace it."""
        from deepmouse.families.ridge import RidgeFrom

        kept = {name: init.arrays[name] for name in (*PARAMETER_NAMES, "feature_scale")}
        features = rocket_features(kept, X) / kept["feature_scale"]
        start = init.arrays["coef"]
        ridge = RidgeFrom(start, alphas=RIDGE_ALPHAS).fit(features, y)
        platt_a, platt_b = platt_out_of_fold(RidgeFrom(start, ridge.alpha_), features, y,
                                             params["seed"])
        return FamilyState(kept | head_arrays(kept["feature_scale"], ridge.coef_,
                                              ridge.intercept_, platt_a, platt_b))

    def check_init(self, init_params: dict, params: dict) -> None:
        if init_params["n_kernels"] != params["n_kernels"]:
            raise ValueError("fine-tuning keeps the MiniRocket kernels of the model it starts "
                             f"from: n_kernels cannot change (it has n_kernels="
                             f"{init_params['n_kernels']})")

    def restore(self, state: FamilyState, params: dict) -> FamilyState:
        self.check_available()
        shapes: dict[str, tuple[int | None, ...]] = {name: (None,) for name in PARAMETER_NAMES}
        shapes |= {"feature_scale": (None,), "coef": (None,), "intercept": (1,),
                   "platt_a": (1,), "platt_b": (1,)}
        require_arrays(state, shapes)
        check_kernels(state.arrays)
        return state

    def log_odds(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        return self._head(state.arrays, rocket_features(state.arrays, X))

    def log_odds_one(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        """The features of the one window by :func:`~deepmouse.families.minirocket_one.
        one_window_features` (equal to aeon's, without its per-kernel allocations)."""
        from deepmouse.families.minirocket_one import one_window_features

        check_window(state.arrays, X)
        parameters = tuple(state.arrays[name] for name in PARAMETER_NAMES)
        features = one_window_features(rocket_input(X)[0], *parameters,
                                       _minirocket().MiniRocket._indices)
        return self._head(state.arrays, features[None])

    @staticmethod
    def _head(arrays: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
        """Log-odds ``(n,)`` from MiniRocket features ``(n, n_features)``."""
        scaled = (features / arrays["feature_scale"]).astype(np.float64)
        score = scaled @ arrays["coef"] + arrays["intercept"][0]
        return arrays["platt_a"][0] * score + arrays["platt_b"][0]


register(RocketFamily())
