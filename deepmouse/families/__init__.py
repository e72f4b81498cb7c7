"""Model families and their registry (the contract: :mod:`deepmouse.families.base`).

Built in: the torch networks (:mod:`~deepmouse.families.network`: ``stroke-cnn``, ``conv-gru``,
``gru``, ``lstm``), :mod:`~deepmouse.families.svm`, :mod:`~deepmouse.families.rocket` and
:mod:`~deepmouse.families.ensemble` (the average of several). Each
module registers its families when imported; a new family is one more module here and one line
below (or a ``register(...)`` call from your own code).
"""

from deepmouse.families import ensemble, network, rocket, svm  # noqa: F401  (they register)
from deepmouse.families.base import (
    COMMON_PARAMETERS,
    DEFAULT_FAMILY,
    FAMILIES,
    MAX_SEED,
    RUNTIME_PARAMETERS,
    Family,
    FamilyState,
    MissingDependencyError,
    get_family,
    register,
    unregister,
)

__all__ = [
    "COMMON_PARAMETERS", "DEFAULT_FAMILY", "FAMILIES", "MAX_SEED", "RUNTIME_PARAMETERS", "Family",
    "FamilyState", "MissingDependencyError", "get_family", "register", "unregister",
]
