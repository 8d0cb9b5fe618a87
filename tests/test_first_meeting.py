"""A new user's first meeting with trainlab (issue 25, part 4): what the terminal says while the
learning-rate finder runs, when predict meets a file without
the model's columns or a file it did not write, when trainer.devices asks for more processes
than there are cores; and the course page's perceptron figure."""

import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import command, train
from overrides import QUIET

from trainlab import run
from trainlab.errors import ConfigError
from trainlab.predict import predict_file

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# 1 and 2, the resume line and Ctrl-C's one line, are tested with a real SIGINT in tests/test_interrupt.py.


# ----- 3. the learning-rate finder: trainlab's Rich bar, or none; never Lightning's tqdm bar -----

LR_FIND = ["tune=lr_find", "tune.num_training=30", "data.n_samples=240", "logger=none", "pictures.enabled=false"]


def test_the_learning_rate_finder_honours_enable_progress_bar(tmp_path, capfd):
    off = train(*LR_FIND, *QUIET, f"hydra.run.dir={tmp_path / 'off'}", cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    shown = off.stdout + off.stderr
    assert "Finding best initial lr" not in shown and "it/s" not in shown and "━" not in shown, shown
    assert "lr_find: suggested optimizer.lr=" in off.stdout

    capfd.readouterr()
    run([*LR_FIND, "trainer.enable_model_summary=false"], output_dir=tmp_path / "on")  # the bar enabled (default)
    captured = capfd.readouterr()
    shown = ANSI.sub("", captured.out + captured.err)
    assert "Finding best initial lr" not in shown and "it/s" not in shown, shown
    # Rich, as the training bar: "lr_find ━━━ 30/30 0:00:00 • 0:00:00"
    assert re.search(r"^lr_find ━+ 30/30 \d+:\d\d:\d\d • \d+:\d\d:\d\d$", shown, re.MULTILINE), shown


# ----- 4. predict: every missing column at once; never a file it did not write -----


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    """A run trained on a small CSV (id, two numbers, a colour; label) and its test file."""
    root = tmp_path_factory.mktemp("kaggle")
    rows = range(160)
    frame = pd.DataFrame(
        {
            "id": [1000 + i for i in rows],
            "height": [i % 17 for i in rows],
            "weight": [(i * 7) % 23 for i in rows],
            "colour": [("red", "green", "blue")[i % 3] for i in rows],
        }
    )
    frame["label"] = ["yes" if h + w > 19 else "no" for h, w in zip(frame.height, frame.weight, strict=True)]
    frame.to_csv(root / "train.csv", index=False)
    frame.drop(columns="label").to_csv(root / "test.csv", index=False)
    data = ["data=csv", f"data.train={root / 'train.csv'}", "data.target=label", "data.id=id"]
    run([*data, "trainer.max_epochs=1", "logger=none", "pictures.enabled=false"], root / "run", verbose=False)
    return root


def predict(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        command(*args, script="predict.py"), cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_predict_names_every_missing_column_and_what_the_run_expects(kaggle, tmp_path, monkeypatch, capsys):
    """The command line, run in this process (a subprocess of it: the next test)."""
    from trainlab.cli.predict_command import predict as predict_command

    (tmp_path / "wrong.csv").write_text("name,score\nann,1\nbob,2\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        predict_command([f"run={kaggle / 'run'}", "input=wrong.csv"])
    assert exited.value.code == 2
    said = capsys.readouterr()
    assert not said.out
    assert said.err == (
        "error: wrong.csv lacks 3 columns, which the model was trained on: 'height', 'weight', 'colour'; "
        "and the id column 'id'; the run expects the columns 'id', 'height', 'weight', 'colour'; "
        "its columns: 'name', 'score'\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["wrong.csv"]  # no submission.csv, nothing half-written


def test_predict_refuses_to_replace_a_file_it_did_not_write(kaggle, tmp_path, monkeypatch, capsys):
    mine = b"id,label\n1,my best guess\n"
    (tmp_path / "submission.csv").write_bytes(mine)
    refused = predict(f"run={kaggle / 'run'}", f"input={kaggle / 'test.csv'}", cwd=tmp_path)
    assert refused.returncode == 2 and not refused.stdout
    assert refused.stderr == (
        "error: output='submission.csv' exists and predict did not write it: choose another output=<file>, "
        "or add overwrite=true to replace it\n"
    )
    assert (tmp_path / "submission.csv").read_bytes() == mine and sorted(os.listdir(tmp_path)) == ["submission.csv"]

    # overwrite=true replaces it, and says so (the command line, run in this process).
    from trainlab.cli.predict_command import predict as predict_command

    monkeypatch.chdir(tmp_path)
    predict_command([f"run={kaggle / 'run'}", f"input={kaggle / 'test.csv'}", "overwrite=true"])
    said = capsys.readouterr().out
    assert said == "wrote 160 predictions to submission.csv (id, label), replacing the file that was there\n"
    assert pd.read_csv(tmp_path / "submission.csv").shape == (160, 2)

    # Its own file, unchanged, predict replaces again; once the user edits it, no more.
    predict_file(kaggle / "run", kaggle / "test.csv", "submission.csv")
    with (tmp_path / "submission.csv").open("a") as file:
        file.write("9999,yes\n")
    edited = (tmp_path / "submission.csv").read_bytes()
    with pytest.raises(ConfigError, match=r"submission\.csv' was changed since predict wrote it: choose another"):
        predict_file(kaggle / "run", kaggle / "test.csv", "submission.csv")
    assert (tmp_path / "submission.csv").read_bytes() == edited


# ----- 5. more processes than cores: one warning, before anything trains -----


def pinned(cores: set[int]):
    """A preexec_fn: the child runs on ``cores`` alone (as a machine with that many cores)."""
    return lambda: os.sched_setaffinity(0, cores)


def few_cores() -> set[int]:
    return set(sorted(os.sched_getaffinity(0))[:2])


def crowding_warning(cores: set[int]) -> str:
    n = len(cores)
    return (
        f"trainer.devices={n + 1} on the CPU: {n + 1} training processes share {n} core{'s' if n > 1 else ''}, "
        f"so they take turns and each trains slower than alone; trainer.devices={n} runs one process per core"
    )


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_more_processes_than_cores_is_one_warning_before_any_work(tmp_path):
    """The warning comes before the data is read: here the data file lacks its target, so the run
    stops there (exit 2) before Lightning starts the other processes."""
    cores = few_cores()
    (tmp_path / "train.csv").write_text("a,b\n1,2\n3,4\n")
    args = ["trainer.accelerator=cpu", f"trainer.devices={len(cores) + 1}", "data=csv", "data.train=train.csv"]
    args += ["data.target=label", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run(
        command(*args), cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300, preexec_fn=pinned(cores)
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.count(" - " + crowding_warning(cores) + "\n") == 1, done.stdout
    assert "data.target='label' is not a column of" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_more_processes_than_cores_trains_with_one_warning(tmp_path):
    """A whole run in one more process than its cores: the warning once (rank 0's), and it trains."""
    cores = few_cores()
    args = ["trainer.accelerator=cpu", f"trainer.devices={len(cores) + 1}", "data.n_samples=240"]
    args += ["trainer.max_epochs=1", "logger=none", "pictures.enabled=false", *QUIET, f"hydra.run.dir={tmp_path}/run"]
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run(
        command(*args), cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600, preexec_fn=pinned(cores)
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout + done.stderr
    assert shown.count(crowding_warning(cores)) == 1, shown
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "finished"


# ----- 6. the course page's perceptron: sharp, its label clear of the decision line -----


def test_the_perceptron_figure_is_vector_and_its_label_clears_the_decision_line(tmp_path):
    from trainlab.course import perceptron
    from trainlab.course.common import Course
    from trainlab.course.site import render_section

    fig, label, line = perceptron.figure(*perceptron.forward())
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    box = label.get_window_extent(renderer)
    path = line.get_transform().transform_path(line.get_path())  # in the same display units
    assert label.get_text() == "x = [-1, 2]\nz = -6, y = 0.00247"
    assert not path.intersects_bbox(box, filled=False), (box, path.vertices[[0, -1]])

    section = perceptron.section(Course(tmp_path))
    assert '<img src="perceptron.svg"' in render_section(section)
    svg = (tmp_path / "perceptron.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "<image" not in svg  # drawn, not a scaled bitmap
