"""A ridge classifier that starts from given weights (fine-tuning a linear model)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import Ridge, RidgeCV


class RidgeFrom(ClassifierMixin, BaseEstimator):
    """A ridge classifier whose penalty pulls its weights toward ``start`` instead of toward
    zero: it minimises ``|t - X w - b|^2 + alpha |w - start|^2`` with targets ``t = ±1``, which
    is a plain ridge on what ``start`` leaves unexplained (the intercept is refitted).

    Args:
        start: the weights to start from ``(n_features,)``.
        alpha: the penalty on moving away from them.
        alphas: penalties to choose ``alpha_`` among instead, by efficient leave-one-out on
            what ``start`` leaves unexplained (``None``: ``alpha``).
    """

    def __init__(self, start: np.ndarray, alpha: float = 1.0,
                 alphas: np.ndarray | None = None) -> None:
        self.start = start
        self.alpha = alpha
        self.alphas = alphas

    def fit(self, X: np.ndarray, y: np.ndarray) -> RidgeFrom:
        """``X`` ``(n, n_features)``, ``y`` ``(n,)`` in {0, 1}."""
        self.classes_ = np.array([0, 1])
        target = np.where(np.asarray(y) == 1, 1.0, -1.0) - X @ self.start
        self.alpha_ = (self.alpha if self.alphas is None
                       else float(RidgeCV(alphas=self.alphas).fit(X, target).alpha_))
        ridge = Ridge(alpha=self.alpha_).fit(X, target)
        self.coef_ = self.start + ridge.coef_
        self.intercept_ = np.atleast_1d(ridge.intercept_)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores ``(n,)``: > 0 for the left hand."""
        return X @ self.coef_ + self.intercept_[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)
