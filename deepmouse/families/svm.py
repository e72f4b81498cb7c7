"""The ``svm`` family: an RBF support-vector machine on the flattened window (DeepMouse
iteration 05), with a Platt sigmoid for calibrated probabilities.

State arrays (plain arrays, no pickle): ``support_vectors`` ``(n_sv, window * 2)``,
``dual_coef`` ``(n_sv,)``, and the scalars (shape ``(1,)``) ``intercept``, ``gamma`` (the
numeric RBF width, also when the parameter was ``"scale"``), ``platt_a``, ``platt_b``.
"""

from __future__ import annotations

import numpy as np

from deepmouse.families.base import (
    Family,
    FamilyState,
    platt_out_of_fold,
    register,
    require_arrays,
)

GAMMA_NAMES = ("scale", "auto")


class SVMFamily(Family):
    name = "svm"
    summary = "RBF SVC on the normalised window (DeepMouse iteration 05)"
    defaults = {"C": 1.0, "gamma": "scale"}

    def check_params(self, params: dict) -> None:
        if not params["C"] > 0:
            raise ValueError(f"C must be > 0, got {params['C']}")
        gamma = params["gamma"]
        if isinstance(gamma, str):
            if gamma not in GAMMA_NAMES:
                raise ValueError(f"gamma must be scale, auto or a number > 0, got {gamma!r}")
        elif not gamma > 0:
            raise ValueError(f"gamma must be scale, auto or a number > 0, got {gamma}")

    def search_space(self, trial) -> dict:
        return {
            "C": trial.suggest_float("C", 1e-2, 1e3, log=True),
            "gamma": trial.suggest_float("gamma", 1e-5, 1e-1, log=True),
        }

    def fit(self, X, y, params, dev=None, on_epoch=None, checkpoint=None) -> FamilyState:
        """Fit the SVC on flat windows and the Platt sigmoid on its out-of-fold scores."""
        from sklearn.svm import SVC

        flat = X.reshape(len(X), -1)
        platt_a, platt_b = platt_out_of_fold(
            SVC(C=params["C"], gamma=params["gamma"]), flat, y, params["seed"]
        )
        svc = SVC(C=params["C"], gamma=params["gamma"]).fit(flat, y)
        return FamilyState({
            "support_vectors": svc.support_vectors_.astype(np.float32),
            "dual_coef": svc.dual_coef_[0].astype(np.float64),
            "intercept": np.array([svc.intercept_[0]]),
            "gamma": np.array([svc._gamma]),
            "platt_a": np.array([platt_a]),
            "platt_b": np.array([platt_b]),
        })

    def restore(self, state: FamilyState, params: dict) -> FamilyState:
        require_arrays(state, {
            "support_vectors": (None, None), "dual_coef": (None,), "intercept": (1,),
            "gamma": (1,), "platt_a": (1,), "platt_b": (1,),
        })
        if len(state.arrays["dual_coef"]) != len(state.arrays["support_vectors"]):
            raise ValueError("dual_coef and support_vectors differ in length")
        return state

    def log_odds(self, state: FamilyState, X: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Kernel expansion over the support vectors, in chunks of ``chunk`` windows."""
        a = state.arrays
        flat = X.reshape(len(X), -1)
        sv = a["support_vectors"].astype(np.float64)
        sv_sq = (sv * sv).sum(1)
        out = []
        for i in range(0, len(flat), chunk):
            x = flat[i : i + chunk].astype(np.float64)
            d2 = (x * x).sum(1)[:, None] + sv_sq[None, :] - 2 * x @ sv.T
            score = np.exp(-a["gamma"][0] * np.maximum(d2, 0)) @ a["dual_coef"]
            out.append(a["platt_a"][0] * (score + a["intercept"][0]) + a["platt_b"][0])
        return np.concatenate(out) if out else np.zeros(0)


register(SVMFamily())
