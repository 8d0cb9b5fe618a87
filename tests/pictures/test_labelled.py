"""What the labelled pictures say, read from their matplotlib Figures: axis names in the
data's units, the class legend, the epoch and accuracy in the title, the tile labels and the
dead-unit marks; and that the picture drawn is the Figure's."""

import numpy as np
import pandas as pd
import pytest
import torch
from overrides import QUIET

from trainlab.config.composing import compose
from trainlab.models import MLP
from trainlab.pictures import report
from trainlab.pictures.inputs import InputPictures
from trainlab.pictures.labels import PlaneLabels
from trainlab.pictures.plane import DEAD_GREY, decision_boundary, score
from trainlab.training import build
from trainlab.training.losses import Loss


def _data(*overrides, n_samples=240):
    size = [f"data.n_samples={n_samples}"] if n_samples else []
    cfg, _ = compose([*overrides, *size, *QUIET])
    return build.data(cfg)


def _pictures(data, loss_name="bce", **kwargs):
    loss = Loss(loss_name, data.task, *data.target_scale)
    y = loss.targets(data.y_train)
    return InputPictures(data.x_train, y, data.task, loss.scores, PlaneLabels.of(data), **kwargs), loss


def _texts(ax):
    return [t.get_text() for t in ax.texts if t.get_visible()]


@pytest.fixture(scope="module")
def will_i_pass():
    return _data()  # the default data set


def test_will_i_pass_axes_are_named_and_drawn_in_the_datas_units(will_i_pass):
    data = will_i_pass
    labels = PlaneLabels.of(data)
    assert [a.label for a in labels.axes] == ["lectures attended", "hours on the final project"]
    assert labels.class_names == ("fail", "pass")
    torch.manual_seed(0)
    pictures, _ = _pictures(data, size=64)
    pictures.draw(MLP(2, [8], 1), epoch=3)
    ax = pictures.figures["decision_boundary"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("lectures attended", "hours on the final project")
    # The axes span the raw training values (lectures 0..30, hours 0..40), not standardized ones.
    raw = [data.x_train[:, d] * labels.axes[d].std + labels.axes[d].mean for d in (0, 1)]
    for (lo, hi), values in ((ax.get_xlim(), raw[0]), (ax.get_ylim(), raw[1])):
        assert lo <= float(values.min()) < float(values.max()) <= hi
        assert hi - lo < 1.5 * float(values.max() - values.min())
    assert raw[0].min() >= 0 and raw[0].max() <= 30 and raw[1].max() <= 40


def test_title_holds_the_epoch_and_the_accuracy_and_the_legend_the_class_names(will_i_pass):
    data = will_i_pass
    torch.manual_seed(0)
    model = MLP(2, [8], 1)
    pictures, loss = _pictures(data, size=64)
    pictures.draw(model, epoch=12, validation=0.875)
    ax = pictures.figures["decision_boundary"].axes[0]
    accuracy = score(model.eval(), loss.scores, data.x_train, data.y_train, "binary")
    assert ax.get_title() == f"epoch 12\naccuracy: training {accuracy:.1%}, validation 87.5%"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["fail", "pass"]
    assert "decision boundary" in legend
    colours = [tuple(h.get_facecolor()[:3]) for h in ax.get_legend().legend_handles[:2]]
    assert colours == [tuple(c / 255 for c in rgb) for rgb in ((245, 147, 34), (8, 119, 189))]  # orange, blue

    pictures.draw(model, epoch=15, best=True)  # the same frame, a new title
    assert ax.get_title() == f"epoch 15 (best)\naccuracy: training {accuracy:.1%}"


def test_generated_data_is_labelled_x1_x2_and_numbered_classes_by_the_target():
    data = _data("data=moons")
    pictures, _ = _pictures(data, size=48)
    pictures.draw(MLP(2, [4], 1), epoch=1)
    ax = pictures.figures["decision_boundary"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["y = 0", "y = 1"]


def test_csv_data_is_labelled_with_its_column_names(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"height_cm": rng.normal(170, 10, 80), "weight_kg": rng.normal(70, 8, 80)})
    frame["kind"] = np.where(frame.height_cm > 170, "tall", "short")
    path = tmp_path / "people.csv"
    frame.to_csv(path, index=False)
    data = _data("data=csv", f"data.train={path}", "data.target=kind", n_samples=None)
    pictures, _ = _pictures(data, size=48)
    pictures.draw(MLP(2, [4], 1), epoch=2)
    ax = pictures.figures["decision_boundary"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("height_cm", "weight_kg")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["short", "tall"]
    assert ax.get_xlim()[0] > 100  # centimetres, not standardized units


def test_regression_on_a_plane_has_a_colour_bar_and_the_error_in_the_title():
    data = _data("data=wave", "data.n_features=2")
    pictures, loss = _pictures(data, loss_name="mse", size=48)
    model = MLP(2, [4], 1)
    pictures.draw(model, epoch=4)
    fig = pictures.figures["decision_boundary"]
    ax, bar = fig.axes
    assert bar.get_ylabel().startswith("y: predicted")
    error = score(model.eval(), loss.scores, data.x_train, loss.targets(data.y_train), "regression")
    assert ax.get_title() == f"epoch 4\nmean absolute error: training {error:.3g}"


def test_fitted_curve_names_its_input_and_target():
    data = _data("data=wave", "data.n_features=1")
    pictures, _ = _pictures(data, loss_name="mse", size=48)
    images = pictures.draw(MLP(1, [4], 1), epoch=1)
    assert list(images) == ["fitted_curve"]
    ax = pictures.figures["fitted_curve"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "y")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training point", "the model's prediction"]


def test_neuron_tiles_are_labelled_and_dead_units_marked(will_i_pass):
    data = will_i_pass
    torch.manual_seed(0)
    model = MLP(2, [10], 1, activation="relu")
    with torch.no_grad():  # units 4 and 7 (counted from 1) dead over the whole plane
        model.layers[0].W[:, [3, 6]] = 0.0
        model.layers[0].b[[3, 6]] = -1.0
    pictures, _ = _pictures(data, size=48)
    images = pictures.draw(model, epoch=5)
    frame = pictures.frames["neurons"]
    ax = frame.fig.axes[0]
    labels = [t for t in _texts(ax) if t.startswith("L")]
    assert labels == [f"L1 u{j}" for j in range(1, 11)]
    marks = [t for t in ax.texts if t.get_text() == "dead"]
    assert [j + 1 for j, t in enumerate(marks) if t.get_visible()] == [4, 7]
    assert ax.get_title() == "epoch 5: layer L1, 10 units, 2 dead"
    # The picture: unit 4's tile is plain grey under its mark, unit 1's is not.
    top, left = frame.boxes[0][:2]
    windows = frame.windows[0]
    image = images["neurons"]
    for j, dead in ((3, True), (0, False)):
        r, c, h, w = windows[j]
        tile = image[:, top + r : top + r + h, left + c : left + c + w]
        corner = tile[:, :8, :8]  # away from the mark at the centre
        grey = torch.tensor(DEAD_GREY, dtype=torch.uint8).view(3, 1, 1)
        assert bool((corner == grey).all()) == dead
        x, y = marks[j].get_position()
        assert (c + w / 2, r + h / 2) == (x, y)  # the mark sits on its unit's tile

    with torch.no_grad():  # revived: no mark, no dead count
        model.layers[0].b[[3, 6]] = 1.0
    pictures.draw(model, epoch=6)
    assert not any(t.get_visible() for t in marks)
    assert ax.get_title() == "epoch 6: layer L1, 10 units"


def test_the_picture_is_the_figure_as_matplotlib_draws_it(will_i_pass):
    """The fast path (background drawn once, raster pasted, title drawn) gives the pixels a
    full draw of the Figure gives: what a test reads from the Figure is what is saved."""
    torch.manual_seed(0)
    model = MLP(2, [8], 1)
    pictures, loss = _pictures(will_i_pass, size=64)
    pictures.draw(model, epoch=1)
    image = pictures.draw(model, epoch=2, validation=0.5)["decision_boundary"]
    frame = pictures.frames["decision_boundary"]
    fig = frame.fig
    fig.canvas.draw()
    full = torch.from_numpy(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()).permute(2, 0, 1)
    assert image.shape == full.shape
    top, left, height, width = frame.boxes[0]
    inside = (slice(None), slice(top + 1, top + height - 1), slice(left + 1, left + width - 1))
    outside = torch.ones(full.shape[1:], dtype=torch.bool)
    outside[top - 1 : top + height + 1, left - 1 : left + width + 1] = False
    assert torch.equal(image[inside], full[inside])  # the raster, where matplotlib put the image
    assert torch.equal(image[:, outside], full[:, outside])  # the title, axes, legend
    x, y = will_i_pass.x_train, will_i_pass.y_train
    raster = decision_boundary(model, loss.scores, x, y, "binary", 64)
    assert torch.equal(image[:, top : top + height, left : left + width], raster)


def test_run_files_name_the_epoch_given_and_the_validation_accuracy(will_i_pass, tmp_path, monkeypatch):
    drawn = []

    class Recording(InputPictures):
        def draw(self, *args, **kwargs):
            drawn.append(self)
            return super().draw(*args, **kwargs)

    monkeypatch.setattr(report, "InputPictures", Recording)
    data = will_i_pass
    torch.manual_seed(0)
    model = MLP(2, [8], 1)
    loss = Loss("bce", "binary")
    paths = report.save_input_pictures(model, loss, data, tmp_path, size=64, epoch=9)
    assert sorted(p.name for p in paths) == ["decision_boundary.png", "neurons.png"]
    accuracy = score(model, loss.scores, data.x_train, data.y_train, "binary")
    validation = score(model, loss.scores, data.x_val, data.y_val, "binary")
    title = drawn[0].figures["decision_boundary"].axes[0].get_title()
    assert title == f"epoch 9 (best)\naccuracy: training {accuracy:.1%}, validation {validation:.1%}"
    assert drawn[0].figures["neurons"].axes[0].get_title().startswith("epoch 9 (best): layer L1, 8 units")

    report.save_input_pictures(model, loss, data, tmp_path / "again", size=64)  # no epoch known
    assert drawn[1].figures["decision_boundary"].axes[0].get_title().startswith("best weights\n")
