"""deepmouse: tell which hand moves the touchpad or mouse from the cursor's position over time.

The data flow, one module per stage (docs/architecture.md)::

    recordings (CSV) -> windows -> classifier + families -> modelfile -> evaluate / live

Quick start from Python::

    from deepmouse import load_dataset, make_splits, HandClassifier
    data = load_dataset("data/synth")
    clf = HandClassifier()                       # the default model of `deepmouse train`
    splits = make_splits(data, clf.window_config(), method="chrono")
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    clf.predict_proba(splits.test.X)   # (n_windows, 2): P(right), P(left)
"""

__version__ = "0.1.0"

_EXPORTS = {
    "CLASS_NAMES": "deepmouse.recordings",
    "DataError": "deepmouse.recordings",
    "Dataset": "deepmouse.recordings",
    "Recording": "deepmouse.recordings",
    "load_dataset": "deepmouse.recordings",
    "read_recording": "deepmouse.recordings",
    "WindowConfig": "deepmouse.windows",
    "make_splits": "deepmouse.windows",
    "HandClassifier": "deepmouse.classifier",
    "FAMILIES": "deepmouse.families",
    "Family": "deepmouse.families",
    "FamilyState": "deepmouse.families",
    "register": "deepmouse.families",
    "HandModel": "deepmouse.modelfile",
    "load_model": "deepmouse.modelfile",
    "save_model": "deepmouse.modelfile",
    "evaluate_windows": "deepmouse.evaluate",
    "train_run": "deepmouse.pipeline",
}


def __getattr__(name: str):
    """Import on first use, so ``deepmouse --help`` does not pay for torch."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deepmouse' has no attribute {name!r}")


__all__ = ["__version__", *_EXPORTS]
