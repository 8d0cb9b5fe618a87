"""What the pictures call things: each input axis (its name and its units), each class, the target.

Pictures of the input plane are drawn in the data's own units: the preprocessing standardizes
each numeric column, x' = (x - mean) / std (``trainlab.data.preprocess``), and an ``Axis``
maps the model's x' back, x = mean + std * x', with the training split's mean and std.
Features that are not standardized (one-hot ``col=value``, ``col_missing`` indicators) keep
their 0/1 values (mean 0, std 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from trainlab.data import TabularData

# Longer axis names for the course's own data sets' columns (data set -> column -> words).
# Data sets not listed here, and CSV files, are labelled with their column names.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "will_i_pass": {"lectures": "lectures attended", "hours": "hours on the final project"},
}


@dataclass(frozen=True)
class Axis:
    """One input as an axis of a picture: its ``label``, and ``value = mean + std * x'`` from
    the model's (standardized) input x' to the data's units."""

    label: str
    mean: float = 0.0
    std: float = 1.0

    def to_data(self, standardized: float) -> float:
        """A position in the model's units as a value in the data's units."""
        return self.mean + self.std * standardized


@dataclass(frozen=True)
class PlaneLabels:
    """The names a picture of the input plane shows: ``axes`` (one per input), the
    ``class_names`` in class-index order (None for regression) and the ``target``'s name."""

    axes: tuple[Axis, ...]
    class_names: tuple[str, ...] | None
    target: str

    @classmethod
    def of(cls, data: TabularData) -> PlaneLabels:
        """The labels of ``data``: column names (with ``DESCRIPTIONS``' longer names), the
        training split's means and stds, and its classes' names (numbered classes are named
        ``<target> = <value>``, e.g. ``y = 0``; named ones by their name, e.g. ``fail``)."""
        descriptions = DESCRIPTIONS.get(data.name, {})
        numeric = {c.name: c for c in data.preprocessor.numeric}
        axes = []
        for name in data.feature_names:
            label = descriptions.get(name, name)
            column = numeric.get(name)
            axes.append(Axis(label, column.mean, column.std) if column is not None else Axis(label))
        target = data.target_encoder.name
        names = data.class_names
        classes = None if names is None else tuple(_class_label(target, str(n)) for n in names)
        return cls(tuple(axes), classes, target)

    @classmethod
    def plain(cls, n_features: int, n_classes: int | None = None) -> PlaneLabels:
        """Labels without a data set: inputs x1, x2, ...; classes ``class 0``, ``class 1``, ...;
        target y (a picture drawn by hand, or a callback without a trainlab DataModule)."""
        classes = None if n_classes is None else tuple(f"class {k}" for k in range(n_classes))
        return cls(tuple(Axis(f"x{d + 1}") for d in range(n_features)), classes, "y")

    def class_name(self, k: int) -> str:
        """Class ``k``'s name (``class k`` past the names known)."""
        if self.class_names is not None and k < len(self.class_names):
            return self.class_names[k]
        return f"class {k}"


def _class_label(target: str, name: str) -> str:
    try:
        float(name)
    except ValueError:
        return name
    return f"{target} = {name}"
