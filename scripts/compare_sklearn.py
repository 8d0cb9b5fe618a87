"""trainlab beside scikit-learn's MLPClassifier on the same split (not a test).

    python scripts/compare_sklearn.py [digits breast_cancer]

Both see the rows of train_test_split(test_size=0.25, stratify=y, random_state=0) as the
test set. scikit-learn's MLPClassifier (defaults, random_state=0) trains on all the other
rows, standardized by a StandardScaler, and also raw; trainlab runs `experiment=<name>`
(which holds 10% of the rows out for validation and early stopping) and reports the test
accuracy of its best weights.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
import warnings

from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from trainlab import run

LOADERS = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer}


def sklearn_accuracy(name: str, scaled: bool) -> tuple[float, float]:
    x, y = LOADERS[name](return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    model = MLPClassifier(random_state=0)
    if scaled:
        model = make_pipeline(StandardScaler(), model)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return model.score(x_test, y_test), time.perf_counter() - start


def trainlab_accuracy(name: str) -> tuple[float, float]:
    quiet = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "logger=none"]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run([f"experiment={name}", *quiet], output_dir=out)
        return result.metrics["test/acc"], time.perf_counter() - start


def main(names: list[str]) -> None:
    logging.disable(logging.WARNING)
    rows = []
    for name in names:
        ours, ours_s = trainlab_accuracy(name)
        scaled, scaled_s = sklearn_accuracy(name, scaled=True)
        raw, raw_s = sklearn_accuracy(name, scaled=False)
        rows.append((name, ours, ours_s, scaled, scaled_s, raw, raw_s))
    print(f"{'data set':<14} {'trainlab':>16} {'sklearn+scaler':>16} {'sklearn raw':>16}")
    for name, ours, ours_s, scaled, scaled_s, raw, raw_s in rows:
        print(f"{name:<14} {ours:>8.4f} ({ours_s:4.1f}s) {scaled:>8.4f} ({scaled_s:4.1f}s) {raw:>8.4f} ({raw_s:4.1f}s)")
    print("test accuracy (and wall time of the whole run for trainlab, of fit() for scikit-learn)")


if __name__ == "__main__":
    main(sys.argv[1:] or list(LOADERS))
