"""The torch network families: ``stroke-cnn`` (the default), ``conv-gru``, ``gru``, ``lstm``.

Each is a :class:`NetworkFamily`: one network of :mod:`deepmouse.models`, trained by the one
training loop of :mod:`deepmouse.train` (Adam, binary cross-entropy, the epoch with the best dev
loss kept). They differ in their network, their defaults and their search space:

- ``stroke-cnn``: dilated CNN + stroke features; trained on overlapping windows (a new one every
  window/10 steps), with rotation/scale augmentation, 10 epochs (the settings chosen on dev);
- ``conv-gru``: DeepMouse's later model (iterations 10-13), 3 conv blocks and a GRU 64;
- ``gru``, ``lstm``: DeepMouse's first models (iterations 01, 10) with a recurrent layer of 64.

State arrays: the network's ``state_dict``, one array per tensor. torch is imported when a
network is built, not when this module is, so the command line starts without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepmouse.families.base import RUNTIME_DEFAULTS, Family, FamilyState, register

TRAINING = {"epochs": 30, "batch_size": 32, "lr": 3e-3, "augment": 0.0,
            "patience": None} | RUNTIME_DEFAULTS
"""Training parameters every network takes (see :class:`deepmouse.train.TrainConfig`)."""
RECURRENT = {"hidden": 64, "dropout": 0.1, "l1": 0.0, "l2": 0.0}
"""Architecture of DeepMouse's recurrent networks (see :class:`deepmouse.models.ModelConfig`)."""


@dataclass(frozen=True)
class NetworkSpec:
    """What distinguishes one network family from another."""

    kind: str
    summary: str
    defaults: dict
    train_stride: float = 1.0
    tune_augment: bool = False


FINE_TUNE = {"lr": 3e-4}
"""A fine-tuning run's learning rate: a tenth of stroke-cnn's. ``benchmarks/fine_tune.py`` chose
it most often (6 of 12 choices; 3e-5 five times, 3e-3 once) with held-out mouse sessions in the
user's place; at the family's own rate a few epochs of a user's minutes overwrite much of what
the model knew ("How much to record" in ``benchmarks/RESULTS.md``)."""


class NetworkFamily(Family):
    """A family whose model is one torch network of :mod:`deepmouse.models`."""

    fine_tune_defaults = FINE_TUNE

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.name = spec.kind
        self.summary = spec.summary
        self.defaults = spec.defaults
        self.train_stride = spec.train_stride

    # -- configs ---------------------------------------------------------------------------
    def model_config(self, params: dict):
        from deepmouse.models import ModelConfig

        architecture = {k: params[k] for k in ("hidden", "dropout", "conv_layers",
                                               "conv_filters", "l1", "l2") if k in params}
        return ModelConfig(kind=self.spec.kind, **architecture)

    def train_config(self, params: dict):
        from deepmouse.train import TrainConfig

        return TrainConfig(seed=params["seed"], **{k: params[k] for k in TRAINING})

    def check_params(self, params: dict) -> None:
        self.model_config(params)
        self.train_config(params)

    def min_window(self, params: dict) -> int:
        from deepmouse.models import min_window

        return min_window(self.model_config(params))

    def progress_total(self, params: dict) -> int:
        return int(params["epochs"])

    def search_space(self, trial) -> dict:
        from deepmouse.models import MAX_CONV_LAYERS

        params = {
            "hidden": trial.suggest_int("hidden", 16, 256, log=True),
            "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }
        if "conv_layers" in self.defaults:
            most = MAX_CONV_LAYERS[self.spec.kind]
            params["conv_layers"] = trial.suggest_int("conv_layers", 0, most)
        if self.spec.tune_augment:
            params["augment"] = trial.suggest_float("augment", 0.0, 0.4)
        return params

    # -- fit, restore, score ---------------------------------------------------------------
    def fit(self, X, y, params, dev=None, on_epoch=None, checkpoint=None) -> FamilyState:
        return self._train(X, y, params, None, dev, on_epoch, checkpoint)

    def fine_tune(self, X, y, params, init, dev=None, on_epoch=None,
                  checkpoint=None) -> FamilyState:
        return self._train(X, y, params, init, dev, on_epoch, checkpoint)

    def check_init(self, init_params: dict, params: dict) -> None:
        before, after = self.model_config(init_params), self.model_config(params)
        changed = [name for name, value in vars(after).items() if vars(before)[name] != value
                   and name != "dropout"]  # dropout changes no weight: it may differ
        if changed:
            raise ValueError(f"fine-tuning keeps the network of the model it starts from: "
                             f"{', '.join(changed)} cannot change (it has "
                             f"{', '.join(f'{n}={vars(before)[n]}' for n in changed)})")

    def _train(self, X, y, params, init, dev, on_epoch, checkpoint) -> FamilyState:
        """Train a new network (``init`` None) or one holding the weights of ``init``."""
        import torch

        from deepmouse.models import build_model
        from deepmouse.train import resolve_device, train_model

        torch.manual_seed(params["seed"])
        net = build_model(self.model_config(params))
        if init is not None:
            net.load_state_dict(self._weights(init, params))
        X_dev, y_dev = dev if dev is not None else (None, None)
        result = train_model(net, self.train_config(params), X, y, X_dev, y_dev, on_epoch,
                             checkpoint)
        arrays = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        state = FamilyState(arrays, history=result.history, best_epoch=result.best_epoch)
        state.runtime = {"net": net, "device": resolve_device(params["device"])}
        return state

    def restore(self, state: FamilyState, params: dict) -> FamilyState:
        from deepmouse.models import build_model
        from deepmouse.train import resolve_device

        weights = self._weights(state, params)
        net = build_model(self.model_config(params))
        net.load_state_dict(weights)
        device = resolve_device(params["device"])
        net.to(device).eval()
        state.runtime = {"net": net, "device": device}
        return state

    def _weights(self, state: FamilyState, params: dict) -> dict:
        """The tensors of ``state``'s arrays, checked against the network ``params`` build.

        Raises:
            ValueError: a weight missing, unexpected or of the wrong shape.
        """
        import torch

        from deepmouse.models import build_model

        # The shapes are read off a network built on the meta device (no memory), so that
        # parameters asking for a huge network are refused before anything is allocated: the
        # real network is built only once its weights are known to be the file's own arrays.
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in
                        build_model(self.model_config(params)).state_dict().items()}
        missing = sorted(set(expected) - set(state.arrays))
        extra = sorted(set(state.arrays) - set(expected))
        if missing or extra:
            raise ValueError(f"weights do not fit the {self.name} network (missing "
                             f"{missing[:3]}, unexpected {extra[:3]})")
        weights = {}
        for name, shape in expected.items():
            array = state.arrays[name]
            if array.shape != shape:
                if not (shape == () and array.shape == (1,)):  # older files: scalars 1-d
                    raise ValueError(f"weight {name} has shape {array.shape}, the network "
                                     f"expects {shape}")
                array = array.reshape(())
            weights[name] = torch.from_numpy(np.array(array))
        return weights

    def log_odds(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        from deepmouse.train import predict_logits

        return predict_logits(state.runtime["net"], X, state.runtime["device"])

    def log_odds_one(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        """The stroke CNN on the CPU scores one window in numpy
        (:class:`deepmouse.models.OneWindowStrokeCNN`, built once per state): torch's overhead
        for a batch of one is most of a live update's cost."""
        runtime = state.runtime
        if "one_window" not in runtime:
            from deepmouse.models import OneWindowStrokeCNN, StrokeCNN

            net = runtime["net"]
            usable = (isinstance(net, StrokeCNN) and runtime["device"].type == "cpu"
                      and not net.training)
            runtime["one_window"] = OneWindowStrokeCNN(net) if usable else None
        scorer = runtime["one_window"]
        if scorer is None:
            return self.log_odds(state, X)
        return np.array([scorer(X[0])], dtype=np.float32)


STROKE_CNN = NetworkSpec(
    "stroke-cnn",
    "deepmouse's dilated CNN + stroke features (the default)",
    TRAINING | {"hidden": 32, "conv_layers": 4, "dropout": 0.3, "augment": 0.25, "epochs": 10,
                "batch_size": 64},
    train_stride=0.1,
    tune_augment=True,
)
CONV_GRU = NetworkSpec(
    "conv-gru", "Conv1D blocks + GRU (DeepMouse iterations 10-13)",
    TRAINING | RECURRENT | {"conv_layers": 3, "conv_filters": 32},
)
GRU = NetworkSpec("gru", "GRU (DeepMouse iteration 10)", TRAINING | RECURRENT)
LSTM = NetworkSpec("lstm", "LSTM (DeepMouse iteration 01)", TRAINING | RECURRENT)

for _spec in (STROKE_CNN, CONV_GRU, GRU, LSTM):
    register(NetworkFamily(_spec))
