"""The sweep picture (trainlab.pictures.sweep_figure) from hand-built sweep rows: no training."""

import math

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainlab.pictures.sweep_figure import save_sweep_picture, sweep_figure, swept_values

LRS = ["0.001", "0.01", "0.1"]


def row(job, loss, mode="min", **overrides):
    """One sweep table row; ``loss`` None leaves val/loss out, as for a failed job."""
    text = " ".join(f"{k.replace('__', '.')}={v}" for k, v in overrides.items())
    r = {"job": str(job), "overrides": f"trainer.max_epochs=3 {text}", "status": "done", "monitor": "val/loss"}
    r["mode"] = mode
    if loss is not None:
        r["val/loss"] = loss
    return r


def loss_of(seed, lr, momentum=0.0):
    return 1.0 + seed + 10 * float(lr) + momentum


def grid(momenta=(None,), mode="min"):
    rows = []
    for seed in (0, 1):
        for lr in LRS:
            for m in momenta:
                extra = {} if m is None else {"optimizer__momentum": m}
                rows.append(row(len(rows), loss_of(seed, lr, m or 0.0), mode, seed=seed, optimizer__lr=lr, **extra))
    return rows


def lines_by_label(fig):
    (ax,) = [a for a in fig.axes if a.get_visible()]
    return ax, {line.get_label(): line for line in ax.get_lines()}


def test_swept_values_are_the_keys_that_differ_in_first_seen_order():
    assert swept_values(grid()) == {"seed": ["0", "1"], "optimizer.lr": LRS}
    assert swept_values([row(0, 1.0, seed=0), row(1, 2.0, seed=0)]) == {}


def test_one_line_per_seed_on_a_log_axis():
    rows = list(reversed(grid()))  # the picture orders by value, not by row
    ax, lines = lines_by_label(sweep_figure(rows))
    assert set(lines) == {"seed=0", "seed=1"}
    assert ax.get_xscale() == "log"
    assert list(lines["seed=0"].get_xdata()) == pytest.approx([0.001, 0.01, 0.1])
    assert list(lines["seed=0"].get_ydata()) == pytest.approx([loss_of(0, lr) for lr in LRS])
    assert "lower is better" in ax.get_ylabel()
    assert ax.get_title() == ""
    assert ax.figure._suptitle.get_text() == "sweep: val/loss against each swept value"


@pytest.mark.parametrize("mode", ["min", "max"])
def test_another_swept_key_gives_the_best_per_point(mode):
    fig = sweep_figure(grid(momenta=(0.0, 0.9), mode=mode))
    panels = [a for a in fig.axes if a.get_visible()]
    assert [a.get_xlabel() for a in panels] == ["optimizer.lr", "optimizer.momentum"]
    ax = panels[0]
    assert ax.get_title() == "best over optimizer.momentum"
    best = 0.0 if mode == "min" else 0.9
    ydata = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert ydata["seed=1"] == pytest.approx([loss_of(1, lr, best) for lr in LRS])
    assert ("lower" if mode == "min" else "higher") + " is better" in ax.get_ylabel()
    assert panels[1].get_xscale() == "linear", "0 is not on a log axis"


def test_failed_jobs_are_left_out_and_counted():
    rows = [*grid(), row(6, None, seed=0, optimizer__lr="1.0"), row(7, math.nan, seed=1, optimizer__lr="1.0")]
    fig = sweep_figure(rows)
    _, lines = lines_by_label(fig)
    assert len(lines["seed=0"].get_xdata()) == 3
    assert "2 jobs failed or diverged" in fig._suptitle.get_text()


def test_categories_and_an_unswept_seed_give_one_unlabelled_line():
    rows = [row(i, v, optimizer=o) for i, (o, v) in enumerate([("sgd", 0.5), ("adam", 0.2), ("adamw", 0.3)])]
    ax, lines = lines_by_label(sweep_figure(rows))
    (line,) = lines.values()
    assert line.get_label().startswith("_"), "a single line needs no label"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "adam", "adamw"]
    assert list(line.get_ydata()) == pytest.approx([0.5, 0.2, 0.3])


def test_nothing_to_draw_gives_none(tmp_path):
    assert sweep_figure([row(0, 1.0, seed=0), row(1, 2.0, seed=0)]) is None
    assert sweep_figure([row(0, None, seed=0), row(1, None, seed=1)]) is None
    assert save_sweep_picture(tmp_path, [row(0, 1.0, seed=0)]) is None
    assert list(tmp_path.iterdir()) == []


def test_save_writes_the_png_and_a_tensorboard_image(tmp_path):
    rows = grid()
    path = save_sweep_picture(tmp_path, rows)
    assert path == tmp_path / "sweep.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert list(tmp_path.glob("events.out.tfevents*"))
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    (image,) = events.Images("sweep")
    assert image.encoded_image_string == path.read_bytes()
    assert image.step == len(rows)
