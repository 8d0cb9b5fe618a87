"""The command line: python train.py, a sweep, python -m trainlab, errors and exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from overrides import QUICK

ROOT = Path(__file__).resolve().parents[1]


def train(*args: str, cwd: Path, module: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "trainlab"] if module else [sys.executable, str(ROOT / "train.py")]
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_train_py_runs_and_prints_the_summary(tmp_path):
    out = train(*QUICK, "optimizer=sgd", "activation=tanh", "data.batch_size=16", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "outputs").glob("*/*")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 2
    for text in (
        "best epoch",
        "test",
        "acc",
        str(run_dir / "checkpoints" / "best.ckpt"),
        f"tensorboard --logdir {run_dir}",
    ):
        assert text in out.stdout
    assert "optimizer:\n  _target_: torch.optim.SGD" in (run_dir / ".hydra" / "config.yaml").read_text()
    assert "Tip" not in out.stdout + out.stderr


def test_sweep_runs_one_job_per_optimizer(tmp_path):
    out = train("-m", *QUICK, "optimizer=sgd,adam,rmsprop", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/*/summary.json"))
    assert [p.parent.name for p in jobs] == ["0", "1", "2"]
    optimizers = [(p.parent / "config.yaml").read_text().split("_target_: torch.optim.")[1].split()[0] for p in jobs]
    assert optimizers == ["SGD", "Adam", "RMSprop"]


def test_python_m_trainlab_from_any_directory(tmp_path):
    out = train(*QUICK, "model=perceptron", "logger=none", cwd=tmp_path, module=True)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "outputs").glob("*/*/summary.json"))) == 1


def test_bad_value_exits_non_zero_with_one_message_and_no_run_dir(tmp_path):
    out = train("optimizer.lr=-1", cwd=tmp_path)
    assert out.returncode == 2
    assert "error: optimizer.lr=-1.0 is not allowed: a learning rate > 0" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list((tmp_path / "outputs").glob("*/*"))


def test_unknown_option_lists_the_groups_options(tmp_path):
    out = train("optimizer=adamax", cwd=tmp_path)
    assert out.returncode == 2
    assert "error: optimizer=adamax: optimizer has no option adamax; did you mean adam?" in out.stderr
    assert "allowed: adadelta, adagrad, adam, adamw, rmsprop, sgd" in out.stderr


def test_typo_in_a_key_is_refused(tmp_path):
    out = train("optimzer.lr=0.1", cwd=tmp_path)
    assert out.returncode == 2
    assert "error: optimzer.lr=0.1: there is no group or key optimzer; did you mean optimizer?" in out.stderr


def test_console_script_lists_every_group(tmp_path):
    script = Path(sys.executable).parent / "trainlab-train"
    if not script.exists():
        pytest.skip("trainlab is not pip-installed in this environment (run from PYTHONPATH)")
    out = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "optimizer       adadelta, adagrad, adam*, adamw, rmsprop, sgd" in out.stdout
    assert "regularization  dropout*, early_stopping*, weight_decay" in out.stdout


def test_bad_csv_exits_non_zero_naming_the_file_and_column(tmp_path):
    (tmp_path / "train.csv").write_text("a,b\n1,2\n3,4\n")
    out = train("data=csv", "data.train=train.csv", "data.target=label", cwd=tmp_path)
    assert out.returncode == 2
    assert "error: data.target='label' is not a column of train.csv; its columns: a, b" in out.stderr
    assert not list((tmp_path / "outputs").glob("*/*"))


def test_a_cli_run_checks_its_config_once_before_lightning_is_imported(tmp_path):
    # In a fresh interpreter: validate() is counted, and Lightning must not be loaded yet when it runs.
    script = f"""
import sys
import trainlab.config.validate as v
calls = []
real = v.validate
def counting(cfg):
    calls.append("lightning" in sys.modules)
    return real(cfg)
v.validate = counting
sys.argv = ["train.py", *{QUICK!r}, "logger=none", "pictures.enabled=false", "hydra.run.dir={tmp_path / "run"}"]
from trainlab.cli import train
train()
print("validate calls:", calls)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # Once by the command line's pre-check (before Hydra makes the run dir), once by
    # api.train (which run() uses too): both before Lightning is imported.
    assert "validate calls: [False, False]" in out.stdout


def test_help_names_the_commands_as_pip_installed_them(monkeypatch):
    from trainlab.cli.usage import help_text

    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/trainlab-train", "--help"])
    installed = help_text(100)
    assert installed.startswith("usage: trainlab-train [group=option ...]")
    assert "python train.py" not in installed and "python predict.py" not in installed
    assert "trainlab-predict run=<run dir> input=<csv>" in installed
    rows = installed.split("\n\n")[0].splitlines()  # the usage's rows: their descriptions aligned
    assert len({len(row) - len(row.split("  ")[-1].lstrip()) for row in rows}) == 1
    monkeypatch.setattr(sys, "argv", ["train.py", "--help"])
    assert help_text(100).startswith("usage: python train.py [group=option ...]")
