"""The decision-boundary picture shows what the model predicts: checked pixel by pixel."""

import numpy as np
import torch

from trainlab.models import MLP
from trainlab.pictures import draw
from trainlab.pictures import tiles as tiles_module
from trainlab.pictures.plane import DEAD_GREY, Plane, decision_boundary, fitted_curve, neuron_tiles
from trainlab.training.losses import Loss


def _isolated(rows, cols, distance=6):
    """Points with no other point within ``distance`` pixels (no marker of another covers them)."""
    pos = torch.stack([rows, cols], 1).float()
    d = torch.cdist(pos, pos)
    d.fill_diagonal_(float("inf"))
    return d.min(1).values > distance


def _points(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g) * 4 - 2


def test_binary_boundary_colour_at_each_point_is_the_models_prediction():
    torch.manual_seed(0)
    model = MLP(2, [8], 1, activation="tanh").eval()
    loss = Loss("bce", "binary")
    x = _points()
    y = (x[:, 0] > 0).long()  # true classes, independent of the (untrained) model
    image = decision_boundary(model, loss.scores, x, y, "binary", size=200)
    assert image.shape == (3, 200, 200) and image.dtype == torch.uint8
    assert image.float().std() > 10  # not a constant picture

    plane = Plane.around(x, 200)
    rows, cols = plane.pixel(x[:, 1], 1, upwards=True), plane.pixel(x[:, 0], 0)
    with torch.no_grad():
        p = loss.scores(model(x))
    checked = 0
    for i in torch.nonzero(_isolated(rows, cols) & ((p - 0.5).abs() > 0.03)).flatten().tolist():
        red, _, blue = image[:, rows[i], cols[i]].int().tolist()
        # class 1 is blue, class 0 orange: the background shows the predicted class
        assert (blue > red) == bool(p[i] > 0.5), (i, float(p[i]), red, blue)
        checked += 1
    assert checked >= 20


def test_multiclass_boundary_shows_the_predicted_class_colour():
    torch.manual_seed(1)
    model = MLP(2, [16], 3, activation="relu").eval()
    with torch.no_grad():  # sharper probabilities than an untrained net's near-uniform ones
        model.layers[-1].W.mul_(8)
    loss = Loss("cross_entropy", "multiclass")
    x = _points(50, seed=3)
    y = torch.zeros(50, dtype=torch.long)
    image = decision_boundary(model, loss.scores, x, y, "multiclass", size=160)
    plane = Plane.around(x, 160)
    rows, cols = plane.pixel(x[:, 1], 1, upwards=True), plane.pixel(x[:, 0], 0)
    with torch.no_grad():
        proba = loss.scores(model(x))
    palette = torch.tensor([draw.class_colour(k) for k in range(3)], dtype=torch.float32)
    confident = proba.max(1).values > 0.5
    checked = 0
    for i in torch.nonzero(_isolated(rows, cols) & confident).flatten().tolist():
        pixel = image[:, rows[i], cols[i]].float()
        # The pixel lies on the line from white to the predicted class's colour.
        direction = torch.nn.functional.normalize(255 - palette, dim=1)
        along = torch.nn.functional.normalize(255 - pixel, dim=0)
        assert int((direction @ along).argmax()) == int(proba[i].argmax())
        checked += 1
    assert checked >= 10
    # All three classes' colours appear where the model predicts them.
    assert len(set(proba.argmax(1).tolist())) >= 2


def test_boundary_line_is_drawn_where_the_prediction_changes():
    model = MLP(2, [4], 1).eval()
    with torch.no_grad():  # z = x1 through the network: make it the identity on x1
        for layer in (model.layers[0], model.layers[-1]):
            layer.W.zero_()
            layer.b.zero_()
        model.layers[0].W[0, 0] = 1.0
        model.layers[0].W[0, 1] = -1.0
        model.layers[-1].W[0, 0] = 1.0
        model.layers[-1].W[1, 0] = -1.0
    x = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    image = decision_boundary(model, Loss("bce", "binary").scores, x, torch.tensor([0, 1]), "binary", size=100)
    dark = (image.int().sum(0) < 3 * 60).nonzero()
    # The 0.5 contour is the vertical line x1 = 0: the middle column(s) of the picture.
    assert len(dark) >= 90
    assert set(dark[:, 1].tolist()) <= {49, 50}


def test_neuron_tiles_one_per_hidden_unit():
    # Weights of its own: drawn from whatever state earlier tests left, 3 of 10 such networks
    # have a ReLU unit dead over the plane (a grey tile), and the test failed by chance.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = MLP(2, [6, 4], 1).eval()
    tiles = neuron_tiles(model, _points(), tile=32)
    assert tiles.images.shape == (6, 3, 32, 32) and tiles.images.dtype == torch.uint8
    assert tiles.dead.tolist() == [False] * 6
    assert neuron_tiles(torch.nn.Sequential(), _points()) is None
    grid = tiles_module.tile_grid(tiles.images, columns=4)  # 2 rows of 4 tiles, each under its label band
    across, down = tiles_module.TILE_GAP
    assert grid.shape == (3, 2 * (tiles_module.TILE_LABEL_BAND + 32) + down, 4 * 32 + 3 * across)


def test_a_dead_relu_unit_is_a_grey_tile_and_flagged():
    model = MLP(2, [5], 1, activation="relu").eval()
    with torch.no_grad():  # every unit's weights set: a drawn unit may be dead over the plane by chance
        model.layers[0].W.copy_(torch.tensor([[1.0, -1.0, 0.1, 0.5, -0.5], [0.5, 1.0, 0.1, -1.0, 1.0]]))
        model.layers[0].b.copy_(torch.tensor([0.1, 0.2, -100.0, 0.0, -0.1]))  # unit 2: z < 0 over the plane
    tiles = neuron_tiles(model, _points(), tile=16)
    assert tiles.dead.tolist() == [False, False, True, False, False]
    grey = torch.tensor(DEAD_GREY, dtype=torch.uint8).view(3, 1, 1)
    assert (tiles.images[2] == grey).all()
    assert not (tiles.images[0] == grey).all(0).all()


def test_fitted_curve_goes_through_the_models_values():
    model = MLP(1, [8], 1).eval()
    x = torch.linspace(-1, 1, 50).unsqueeze(1)
    with torch.no_grad():
        y = model(x).squeeze(1)
    image = fitted_curve(model, lambda out: out.squeeze(-1), x, y, size=120)
    orange = torch.tensor(draw.class_colour(0), dtype=torch.uint8).view(3, 1, 1)
    on_curve = (image == orange).all(0)
    assert on_curve.any(0).float().mean() > 0.95  # the curve crosses (nearly) every column


def test_save_png_writes_the_image_pixel_for_pixel(tmp_path):
    from PIL import Image

    image = torch.randint(0, 256, (3, 20, 30), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    path = draw.save_png(image, tmp_path / "pictures" / "neurons.png")
    assert torch.equal(torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1), image)
    assert [p.name for p in path.parent.iterdir()] == ["neurons.png"]  # no temporary left


def test_overlapping_stamps_keep_the_last_points_colour():
    from trainlab.pictures.draw import stamp

    image = torch.zeros(5, 5, 3)
    n = 500  # many points on one pixel: an indexed write would keep an arbitrary one
    colours = torch.arange(n, dtype=torch.float32).unsqueeze(1).expand(n, 3)
    stamp(image, torch.full((n,), 2), torch.full((n,), 2), colours, (0, 0))
    assert image[2, 2].tolist() == [n - 1] * 3
