"""The ``ensemble`` family: several families fitted on the same windows, their log-odds averaged.

Families that look at a window differently make different mistakes: the stroke-cnn network sees
learned filters and hand-made stroke features of (dx, dy), MiniRocket sees thousands of random
convolutions of the movement and of the path. Averaging their log-odds keeps what they agree on.
Each member is fitted with its own defaults and the ensemble's seed; the average is unweighted
(weights would have to be chosen on held-out windows, which the decision constants already
use).

State arrays: each member's arrays, prefixed ``<index>.``; settings: ``members`` (their names),
each member's own settings and the parameters it was fitted with (restored with those, whatever
the member family's defaults have become since).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepmouse.families.base import (
    FAMILIES,
    RUNTIME_DEFAULTS,
    RUNTIME_PARAMETERS,
    Family,
    FamilyState,
    get_family,
    register,
)

DEFAULT_MEMBERS = "stroke-cnn,rocket"


def member_names(params: dict) -> list[str]:
    return [name.strip() for name in str(params["members"]).split(",") if name.strip()]


def member_checkpoint(checkpoint: str | Path | None, index: int) -> Path | None:
    """The checkpoint of member ``index``: ``<stem>.member<index><suffix>`` beside the
    ensemble's (``None`` without one)."""
    if checkpoint is None:
        return None
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.member{index}{checkpoint.suffix}")


class EnsembleFamily(Family):
    name = "ensemble"
    summary = "the average of several families' log-odds (stroke-cnn + rocket)"
    # where it computes is passed on to the members that take it
    defaults = {"members": DEFAULT_MEMBERS} | RUNTIME_DEFAULTS
    train_stride = 0.25
    # averaging shrinks its sessions' offsets: chosen on held-out mouse sessions by
    # benchmarks/sequential.py (RESULTS.md)
    session_spread = 0.05

    @property
    def extra(self) -> str | None:  # the extras its members need
        extras = {get_family(m).extra for m in member_names(self.defaults) if m in FAMILIES}
        return ",".join(sorted(e for e in extras if e)) or None

    def members(self, params: dict) -> list[Family]:
        names = member_names(params)
        if len(names) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {names}")
        if self.name in names:
            raise ValueError("an ensemble cannot hold an ensemble")
        return [get_family(name) for name in names]

    def member_params(self, family: Family, params: dict) -> dict:
        """A member's defaults, with the ensemble's seed and where it computes."""
        return family.parameters() | {"seed": params["seed"]} | self.where(family, params)

    @staticmethod
    def where(family: Family, params: dict) -> dict:
        """Where the ensemble's ``params`` say to compute, for a member that takes it."""
        return {k: params[k] for k in RUNTIME_PARAMETERS if k in family.parameters()}

    def parameter_hint(self, names: list[str]) -> str:
        members = [get_family(m) for m in member_names(self.defaults) if m in FAMILIES]
        owners = [f.name for f in members if any(n in f.defaults for n in names)]
        if not owners:
            return ""
        verb, it = ("belongs", "it") if len(names) == 1 else ("belong", "them")
        return (f"; {', '.join(names)} {verb} to its member {owners[0]}: to set {it}, train "
                f"{owners[0]} alone (--model {owners[0]})")

    def search_space(self, trial) -> dict:
        raise ValueError("the ensemble has no search space of its own: tune one of its members "
                         f"(--model {member_names(self.defaults)[0]}), then train it alone")

    def check_available(self, params: dict | None = None) -> None:
        for family in self.members(params or self.parameters()):
            family.check_available(self.member_params(family, params or self.parameters()))

    def check_params(self, params: dict) -> None:
        for family in self.members(params):
            family.check_params(self.member_params(family, params))

    def min_window(self, params: dict) -> int:
        return max(f.min_window(self.member_params(f, params)) for f in self.members(params))

    def progress_total(self, params: dict) -> int:
        return sum(f.progress_total(self.member_params(f, params)) for f in self.members(params))

    def fit(self, X, y, params, dev=None, on_epoch=None, checkpoint=None) -> FamilyState:
        """Fit every member on the same windows; with ``checkpoint``, each member that
        checkpoints does so beside it (:func:`member_checkpoint`), so that a resumed fit skips
        the members that had finished and continues the one that had not."""
        families = self.members(params)
        fitted_params = [self.member_params(f, params) for f in families]

        def fit_member(i: int, family: Family, progress) -> FamilyState:
            return family.fit(X, y, fitted_params[i], dev, progress,
                              member_checkpoint(checkpoint, i))

        return self._fit_members(params, families, fitted_params, fit_member, on_epoch)

    def fine_tune(self, X, y, params, init, dev=None, on_epoch=None,
                  checkpoint=None) -> FamilyState:
        """Fine-tune every member from its part of ``init``, with the parameters it was fitted
        with, its own fine-tuning defaults, this run's seed and where it computes."""
        members = init.runtime["members"]
        fitted_params = []
        for (family, _), saved in zip(members, init.settings["params"], strict=True):
            fitted_params.append(saved | family.fine_tune_defaults
                                 | {"seed": params["seed"]} | self.where(family, params))

        def fit_member(i: int, family: Family, progress) -> FamilyState:
            return family.fine_tune(X, y, fitted_params[i], members[i][1], dev, progress,
                                    member_checkpoint(checkpoint, i))

        return self._fit_members(params, [f for f, _ in members], fitted_params, fit_member,
                                 on_epoch)

    def check_init(self, init_params: dict, params: dict) -> None:
        if member_names(init_params) != member_names(params):
            raise ValueError("fine-tuning keeps the members of the ensemble it starts from: "
                             f"members cannot change (it has members={init_params['members']})")

    def _fit_members(self, params, families, fitted_params, fit_member,
                     on_epoch) -> FamilyState:
        """The ensemble's state from ``fit_member(i, family, progress)`` of each member, with
        one progress count over all of them."""
        arrays, settings, fitted, done = {}, [], [], 0
        history: list[dict] = []
        best_epoch = 0
        for i, family in enumerate(families):
            def progress(row: dict, offset: int = done) -> None:
                if on_epoch is not None:
                    on_epoch(row | {"epoch": offset + row["epoch"]})

            member = fit_member(i, family, progress)
            arrays |= {f"{i}.{k}": v for k, v in member.arrays.items()}
            settings.append(member.settings)
            fitted.append((family, member))
            history += [row | {"epoch": done + row["epoch"]} for row in member.history]
            best_epoch = best_epoch or (member.best_epoch and done + member.best_epoch)
            done += family.progress_total(fitted_params[i])
        state = FamilyState(arrays, {"members": member_names(params), "settings": settings,
                                     "params": fitted_params},
                            history=history, best_epoch=best_epoch)
        state.runtime = {"members": fitted}
        return state

    def _split(self, state: FamilyState) -> list[FamilyState]:
        names = state.settings.get("members", [])
        settings = state.settings.get("settings", [])
        if len(names) != len(settings):
            raise ValueError("ensemble settings: members and settings differ in length")
        parts = []
        for i in range(len(names)):
            prefix = f"{i}."
            arrays = {k[len(prefix):]: v for k, v in state.arrays.items() if k.startswith(prefix)}
            parts.append(FamilyState(arrays, settings[i]))
        return parts

    def restore(self, state: FamilyState, params: dict) -> FamilyState:
        families = self.members(params)
        if state.settings.get("members") != [f.name for f in families]:
            raise ValueError("ensemble members differ from its parameters")
        saved = state.settings.get("params") or [self.member_params(f, params) for f in families]
        if len(saved) != len(families) or not all(isinstance(p, dict) for p in saved):
            raise ValueError("ensemble settings: one parameter set per member expected")
        restored = []
        for family, part, fitted_with in zip(families, self._split(state), saved, strict=True):
            member_params = family.parameters() | fitted_with | self.where(family, params)
            family.validate(member_params)
            restored.append(family.restore(part, member_params))
        state.runtime = {"members": list(zip(families, restored, strict=True))}
        return state

    def log_odds(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        members = state.runtime["members"]
        return np.mean([family.log_odds(part, X) for family, part in members], axis=0)

    def log_odds_one(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        members = state.runtime["members"]
        return np.mean([family.log_odds_one(part, X) for family, part in members], axis=0)


register(EnsembleFamily())
