"""A ridge classifier that starts from given weights (fine-tuning a linear model)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import Ridge


class RidgeFrom(ClassifierMixin, BaseEstimator):
    """A ridge classifier whose penalty pulls its weights toward ``start`` instead of toward
    zero: it minimises ``|t - X w - b|^2 + alpha |w - start|^2`` with targets ``t = ±1``, which
    is a plain ridge on what ``start`` leaves unexplained (the intercept is refitted).

    Args:
        start: the weights to start from ``(n_features,)``.
        alpha: the penalty on moving away from them.
    """

    def __init__(self, start: np.ndarray, alpha: float = 1.0) -> None:
        self.start = start
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray) -> RidgeFrom:
        """``X`` ``(n, n_features)``, ``y`` ``(n,)`` in {0, 1}."""
        self.classes_ = np.array([0, 1])
        target = np.where(np.asarray(y) == 1, 1.0, -1.0) - X @ self.start
        ridge = Ridge(alpha=self.alpha).fit(X, target)
        self.coef_ = self.start + ridge.coef_
        self.intercept_ = np.atleast_1d(ridge.intercept_)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores ``(n,)``: > 0 for the left hand."""
        return X @ self.coef_ + self.intercept_[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)
