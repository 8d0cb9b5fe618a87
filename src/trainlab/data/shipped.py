"""Real data sets that ship inside scikit-learn (nothing is downloaded).

- ``digits``: 1,797 handwritten digits, 8x8 pixel intensities 0..16, 10 classes.
- ``breast_cancer``: 569 tumours, 30 measurements, malignant or benign.
- ``wine``: 178 wines, 13 chemical measurements, 3 cultivars.
- ``diabetes``: 442 patients, 10 baseline measurements, disease progression after a
  year (regression).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from trainlab.data.dataset import RawData

# name -> (scikit-learn's loader function, task); scikit-learn is imported when one is loaded.
_LOADERS: dict[str, tuple[str, str]] = {
    "digits": ("load_digits", "multiclass"),
    "breast_cancer": ("load_breast_cancer", "binary"),
    "wine": ("load_wine", "multiclass"),
    "diabetes": ("load_diabetes", "regression"),
}


def load(name: str) -> RawData:
    """The scikit-learn data set ``name``, with class labels by their names where it has them."""
    from sklearn import datasets

    loader_name, task = _LOADERS[name]
    loader: Callable = getattr(datasets, loader_name)
    bunch = loader(as_frame=True)
    target = bunch.target
    names = getattr(bunch, "target_names", None)
    if task != "regression" and names is not None and name != "digits":
        target = pd.Series([str(names[i]) for i in target], name=target.name)
    return RawData(name, bunch.data, target, task=task, source=f"scikit-learn's {name}")


def digits() -> RawData:
    return load("digits")


def breast_cancer() -> RawData:
    return load("breast_cancer")


def wine() -> RawData:
    return load("wine")


def diabetes() -> RawData:
    return load("diabetes")
