"""What a user sees in the terminal: the progress bar and model summary in the course's units,
no Lightning warning or empty hparams.yaml, and tables that fit the console without cutting a name
(80 columns, with the real commands: tests/test_terminal_80.py)."""

import json
import logging
import re
from io import StringIO
from pathlib import Path

import pytest
from cli_helpers import train
from interrupting import ctrl_c_in_epoch
from overrides import QUIET
from rich.console import Console

from trainlab import run
from trainlab.files.checkpoints import load_checkpoint
from trainlab.lifecycle.summary import print_summary
from trainlab.sweeps.tables import print_table

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# will_i_pass, 240 rows: 144 training rows, 5 mini-batches of 32 per epoch, in one chunk.
SMALL = ["data.n_samples=240", "trainer.max_epochs=2", "regularization=[dropout]", "pictures.enabled=false"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``train.py`` as a user runs it, stdout piped (Rich prints the bar's last frame), 120 columns."""
    cwd = tmp_path_factory.mktemp("terminal")
    out = train(*SMALL, f"hydra.run.dir={cwd / 'run'}", cwd=cwd)
    assert out.returncode == 0, out.stderr
    return ANSI.sub("", out.stdout), cwd / "run", out.stderr


def test_the_progress_bar_counts_epochs_from_1_and_mini_batches_with_samples_per_second(cli_run):
    stdout, run_dir, _ = cli_run
    summary = json.loads((run_dir / "summary.json").read_text())
    per_epoch = summary["optimizer_steps"] // summary["epochs"]
    assert (summary["epochs"], per_epoch) == (2, 5)
    bar = next(line for line in stdout.splitlines() if line.startswith("Epoch"))
    # "Epoch 2/2 ━━━ 5/5 0:00:00 • 0:00:00 9,876 samples/s train/loss: ..." (Lightning: "Epoch 1/1 ━━━ 1/1 ... it/s")
    assert re.match(r"Epoch 2/2 ━+ 5/5 .* [\d,]+ samples/s ", bar), bar
    assert "it/s" not in stdout  # neither the training bar nor the test bar's
    testing = next(line for line in stdout.splitlines() if line.startswith("Testing"))
    assert "0.00" not in testing
    # The values shown are the last epoch's (published after the bar's own epoch-end hook).
    last = json.loads(load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["history"])[-1]
    assert last["epoch"] == 2
    shown = " ".join(stdout[stdout.index("Epoch 2/2") : stdout.index("Testing")].split())
    for name in ("train/loss", "train/acc", "val/loss", "val/acc"):
        assert f"{name}: {last[name]:.3f}" in shown, (name, shown)


def test_lightnings_messages_show_once(cli_run):
    """Under Hydra, Lightning's messages go to the root logger (console and train.log) only,
    not also through Lightning's own handler."""
    stdout, run_dir, stderr = cli_run
    assert (stdout + stderr).count("GPU available: False") == 1, stdout + stderr
    assert "GPU available: False" in (run_dir / "train.log").read_text()


def test_the_model_summary_has_no_flops(cli_run):
    stdout, _, _ = cli_run
    assert re.search(r"┃ Name\s+┃ Type\s+┃ Params\s+┃ Mode\s+┃\n", stdout), stdout
    assert "Total params: 1.2 K\n" in stdout  # 2-32-32-1: 1,185 parameters
    assert "FLOPs" not in stdout


def test_the_run_directory_has_no_empty_hparams_yaml(cli_run):
    _, run_dir, _ = cli_run
    assert (run_dir / "config.yaml").is_file() and list(run_dir.glob("events.out.tfevents.*"))
    assert not (run_dir / "hparams.yaml").exists()


def test_a_run_and_its_resume_warn_nothing(tmp_path, monkeypatch, recwarn):
    # As tests/test_resume.py: Ctrl-C in epoch 2 keeps epoch 1 in last.ckpt; resume=<run dir>.
    common = ["data.n_samples=240", "trainer.max_epochs=3", "speed.last_checkpoint_seconds=0", *SMALL[2:], *QUIET]
    with ctrl_c_in_epoch(monkeypatch, 2):
        run(common, output_dir=tmp_path)
    assert list((tmp_path / "checkpoints").iterdir())  # what Lightning warns about
    resumed = run([*common, f"resume={tmp_path}"])
    assert len(resumed.history) == 3
    assert [str(w.message) for w in recwarn] == []


def test_the_lr_finder_logs_no_weights_only_default(tmp_path, caplog):
    lightning = logging.getLogger("lightning.pytorch")  # Lightning's loggers do not propagate to the root
    lightning.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    try:
        run(["tune=lr_find", "tune.num_training=20", "data.n_samples=240", *QUIET], output_dir=tmp_path)
    finally:
        lightning.removeHandler(caplog.handler)
    assert "Restoring states from the checkpoint" in caplog.text  # the finder's own log is seen
    assert "weights_only" not in caplog.text


def cells(text: str, border: str, index: int) -> list[str]:
    """Column ``index`` of a Rich table's lines that start with ``border`` (│ body, ┃ header), stripped."""
    return [line.split(border)[index + 1].strip() for line in text.splitlines() if line.startswith(border)]


def test_the_result_table_folds_on_a_narrow_console():
    metrics = {"val/loss": 0.25, "test/loss": 0.26, "val/acc": 0.93, "test/acc": 0.92}
    summary = {
        "status": "finished",
        "metrics": metrics,
        "metrics_std": {k: 0.01 for k in metrics},
        "folds": [metrics, metrics],
        "best_fold": 1,
        "best_epoch": 3,
        "epochs": 5,
        "stopped_by": "max_epochs",
        "device": "cpu",
        "run_dir": "/runs/a",
        "best_checkpoint": "/runs/a/checkpoints/best.ckpt",
    }
    for width in (24, 60):  # at 24 columns Rich cut "metric" and the values ("0.2…") unless they fold
        out = StringIO()
        print_summary(summary, Console(file=out, width=width))
        text = out.getvalue()
        assert "…" not in text
        assert "".join(cells(text, "┃", 0)) == "metric"
        assert "".join(cells(text, "│", 0)) == "lossacc"
        assert "".join(cells(text, "│", 1)).replace(" ", "") == "0.2500±0.01000.9300±0.0100"


def test_the_sweep_table_keeps_every_override_whole_on_a_narrow_console():
    rows = [
        {
            "job": str(job),
            "overrides": f"optimizer=adam optimizer.lr={lr} model.hidden=[64,64]",
            "status": "early-stopped",
            "best_epoch": 3,
            "epochs": 5,
            "monitor": "val/loss",
            "mode": "min",
            "val/loss": 0.2 + job / 100,
            "test/loss": 0.3,
            "test/acc": 0.9,
        }
        for job, lr in enumerate(("0.001", "0.01"))
    ]
    out = StringIO()
    print_table(Path("/sweeps/s"), rows, Console(file=out, width=70))
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 70
    assert lines[:6] == [
        "sweep: 2 jobs, best first",
        "every job      optimizer=adam model.hidden=[64,64]",  # shared: once, above the table
        "job  optimizer.lr  status         best  val/loss  test/loss  test/acc",  # a column per differing key
        "───  ────────────  ─────────────  ────  ────────  ─────────  ────────",
        "  0  0.001         early-stopped     3    0.2000     0.3000    0.9000",
        "  1  0.01          early-stopped     3    0.2100     0.3000    0.9000",
    ]
    out = StringIO()
    print_table(Path("/sweeps/s"), rows, Console(file=out, width=60))  # too narrow for a column per key
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 60
    assert lines[2:8] == [
        "job  status         best  val/loss  test/loss  test/acc",
        "───  ─────────────  ────  ────────  ─────────  ────────",
        "  0  early-stopped     3    0.2000     0.3000    0.9000",
        "     optimizer.lr=0.001",  # the differing overrides under their job's row
        "  1  early-stopped     3    0.2100     0.3000    0.9000",
        "     optimizer.lr=0.01",
    ]
    out = StringIO()
    print_table(Path("/sweeps/s"), rows, Console(file=out, width=40))  # too narrow for a row: name value pairs
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 40 and "…" not in out.getvalue()
    assert lines[3:7] == [
        "job 0  early-stopped  best 3",
        "    val/loss 0.2000  test/loss 0.3000",
        "    test/acc 0.9000",
        "    optimizer.lr=0.001",
    ]
