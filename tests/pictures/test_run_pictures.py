"""Pictures of whole runs, read back from the event files and the run directory."""

import json
from io import BytesIO

import numpy as np
import pandas as pd
import pytest
import torch
from overrides import QUIET
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainlab import run
from trainlab.config.composing import compose
from trainlab.errors import ConfigError
from trainlab.pictures.inputs import InputPictures
from trainlab.pictures.labels import PlaneLabels
from trainlab.pictures.plane import decision_boundary
from trainlab.training import build
from trainlab.training.callbacks import pictures as callbacks
from trainlab.training.losses import Loss

CIRCLES = ["data=circles", "data.n_samples=300", "trainer.max_epochs=6", "regularization=[]", *QUIET]


def events(run_dir):
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "histograms": 0, "scalars": 0})
    acc.Reload()
    return acc


def png(event) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(BytesIO(event.encoded_image_string)).convert("RGB")))


@pytest.fixture(scope="module")
def circles(tmp_path_factory):
    overrides = [*CIRCLES, "pictures.every_n_epochs=2", "pictures.size=96"]
    return overrides, run(overrides, output_dir=tmp_path_factory.mktemp("circles"))


def test_pictures_and_histograms_at_the_configured_epochs(circles):
    _, result = circles
    acc = events(result.run_dir)
    images, histograms = acc.Tags()["images"], acc.Tags()["histograms"]
    for tag in ("pictures/decision_boundary", "pictures/neurons"):
        assert [e.step for e in acc.Images(tag)] == [2, 4, 6]
    for name in ("layers.0.W", "layers.0.b", "layers.2.W"):  # no dropout: Dense layers 0, 1, 2
        assert [e.step for e in acc.Histograms(f"weights/{name}")] == [2, 4, 6]
        assert [e.step for e in acc.Histograms(f"gradients/{name}")] == [2, 4, 6]
    assert "test/confusion_matrix" in images
    assert len(histograms) == 2 * 6  # weights and gradients of 3 Dense layers (W and b each)
    for name in ("decision_boundary", "neurons"):  # the best epoch's, under a tag of their own
        assert [e.step for e in acc.Images(f"pictures/best/{name}")] == [result.best_epoch]
    for name in ("decision_boundary", "neurons"):  # framed as the run's files are
        image, file = acc.Images(f"pictures/{name}")[-1], Image.open(result.run_dir / f"{name}.png")
        assert (image.width, image.height) == file.size
    assert png(acc.Images("pictures/decision_boundary")[-1]).float().std() > 10
    neurons = acc.Images("pictures/neurons")[-1]  # 32 neurons: 4 rows of 8 tiles of 64 px, labelled
    assert neurons.width > 8 * 64 and neurons.height > 4 * 64


def test_decision_boundary_png_is_the_returned_models_prediction(circles):
    overrides, result = circles
    file = torch.from_numpy(np.array(Image.open(result.run_dir / "decision_boundary.png"))).permute(2, 0, 1)
    cfg, _ = compose(overrides)
    data = build.data(cfg)
    loss = Loss("bce", "binary")
    pictures = InputPictures(data.x_train, data.y_train, "binary", loss.scores, PlaneLabels.of(data), size=96)
    drawn = pictures.draw(result.model, best=True)["decision_boundary"]
    assert file.shape == drawn.shape
    top, left, height, width = pictures.frames["decision_boundary"].boxes[0]
    assert (height, width) == (96, 96)
    expected = decision_boundary(result.model, loss.scores, data.x_train, data.y_train, "binary", size=96)
    assert torch.equal(file[:, top : top + 96, left : left + 96], expected)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert set(summary["pictures"]) == {
        "decision_boundary.png",
        "neurons.png",
        "confusion_matrix.csv",
        "confusion_matrix.png",
    }


def test_confusion_matrix_sums_to_the_test_set(circles):
    overrides, result = circles
    counts = pd.read_csv(result.run_dir / "confusion_matrix.csv", index_col=0)
    data = build.data(compose(overrides)[0])
    assert counts.shape == (2, 2)
    assert int(counts.to_numpy().sum()) == len(data.x_test) == 60
    correct = int(counts.to_numpy().trace())
    assert correct / len(data.x_test) == pytest.approx(result.metrics["test/acc"])


def test_default_frequency_is_five_pictures_per_run(tmp_path):
    result = run(["data=xor", "data.n_samples=200", "trainer.max_epochs=10", "regularization=[]", *QUIET], tmp_path)
    steps = [e.step for e in events(result.run_dir).Images("pictures/decision_boundary")]
    assert steps == [2, 4, 6, 8, 10]


def test_pictures_at_the_last_and_the_best_epoch_when_early_stopping_ends_the_run(tmp_path, monkeypatch):
    titles = []  # each TensorBoard picture's title, read from its Figure when drawn

    class Recording(InputPictures):
        def draw(self, *args, **kwargs):
            images = super().draw(*args, **kwargs)
            titles.append({name: fig.axes[0].get_title() for name, fig in self.figures.items()})
            return images

    monkeypatch.setattr(callbacks, "InputPictures", Recording)
    every = 4
    overrides = ["data.n_samples=240", "trainer.max_epochs=40", "regularization.early_stopping.patience=3"]
    result = run([*overrides, f"pictures.every_n_epochs={every}", "pictures.size=48", *QUIET], tmp_path)
    last = len(result.history)
    assert result.stopped_by == "early stopping" and last < 40 and last % every  # stopped between two periodic
    acc = events(result.run_dir)
    periodic = list(range(every, last + 1, every))
    for name in ("decision_boundary", "neurons"):
        assert [e.step for e in acc.Images(f"pictures/{name}")] == [*periodic, last]
        assert [e.step for e in acc.Images(f"pictures/best/{name}")] == [result.best_epoch]
    assert result.best_epoch < last
    # Titles: the epoch, the training accuracy, and the validation accuracy of that epoch.
    val = {row["epoch"]: row["val/acc"] for row in result.history}
    epochs = [*periodic, last]
    assert len(titles) == len(epochs) + 1
    for title, epoch in zip(titles, epochs, strict=False):
        first, second = title["decision_boundary"].split("\n")
        assert first == f"epoch {epoch}"
        assert second.startswith("accuracy: training ") and second.endswith(f", validation {val[epoch]:.1%}")
        assert title["neurons"].startswith(f"epoch {epoch}: layer L1, 32 units")
    best = titles[-1]["decision_boundary"]
    assert best.startswith(f"epoch {result.best_epoch} (best)\n") and f"validation {val[result.best_epoch]:.1%}" in best
    best = png(acc.Images("pictures/best/decision_boundary")[0])
    assert not torch.equal(best, png(acc.Images("pictures/decision_boundary")[-1]))  # other weights, title


def test_pictures_off(tmp_path):
    result = run([*CIRCLES, "pictures.enabled=false"], output_dir=tmp_path)
    assert not list(result.run_dir.glob("*.png"))
    assert events(result.run_dir).Tags()["images"] == []


def test_regression_on_one_input_draws_the_fitted_curve(tmp_path):
    overrides = ["data=wave", "data.n_features=1", "data.n_samples=300", "trainer.max_epochs=4", *QUIET]
    result = run([*overrides, "pictures.every_n_epochs=2"], output_dir=tmp_path)
    assert {p.name for p in result.run_dir.glob("*.png")} == {"fitted_curve.png", "predicted_vs_true.png"}
    tags = events(result.run_dir).Tags()["images"]
    assert {"pictures/fitted_curve", "test/predicted_vs_true"} <= set(tags)


def test_multiclass_confusion_matrix_has_one_row_per_class(tmp_path):
    result = run(["data=wine", "trainer.max_epochs=3", *QUIET], output_dir=tmp_path)
    counts = pd.read_csv(result.run_dir / "confusion_matrix.csv", index_col=0)
    assert counts.shape == (3, 3)
    assert int(counts.to_numpy().sum()) == len(build.data(compose(["data=wine"])[0]).x_test) == 36
    assert not (result.run_dir / "decision_boundary.png").exists()  # 13 inputs: no plane to draw


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("pictures.size=8", "pictures.size=8 is not allowed: an integer from 32 to 2048"),
        ("pictures.every_n_epochs=-1", "pictures.every_n_epochs=-1 is not allowed"),
    ],
)
def test_bad_picture_settings_are_refused(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        run([*CIRCLES, override], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
