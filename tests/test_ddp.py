"""One run on several devices: Lightning's DDP on the CPU (gloo), two processes.

The same code runs CUDA/NCCL; here the CPU checks what the processes agree on: one run dir
written by rank 0 alone, the arithmetic of one process with the global mini-batch, the
same divergence and Ctrl-C decisions on every rank, and resume.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainlab.data.loader import ChunkLoader
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# Small and dropout-free (dropout draws differ between one process and two), last.ckpt every epoch.
BASE = [
    "trainer.accelerator=cpu",
    "data.n_samples=240",
    "regularization=[early_stopping]",  # its decision is a collective step too
    "trainer.max_epochs=3",
    "speed.last_checkpoint_seconds=0",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]
DDP = ["trainer.devices=2", "trainer.strategy=ddp", "data.batch_size=16"]  # global mini-batch: 32 rows
NO_FILES = ["logger=none", "pictures.enabled=false"]  # where only the numbers are looked at


def start(*args: str, cwd: Path, script: Path = ROOT / "train.py") -> subprocess.Popen:
    """train.py (or ``script``) in its own process group, in the background."""
    env = {**os.environ, "COLUMNS": "120"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "TRAINLAB_RUN_DIR"):
        env.pop(name, None)
    command = [sys.executable, str(script), *args]
    pipe = subprocess.PIPE
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=pipe, stderr=pipe, text=True, start_new_session=True)


def finish(process: subprocess.Popen, timeout: int = 180) -> subprocess.CompletedProcess:
    """The finished run; its process group is killed whole if it outlives ``timeout``: a
    hung rank fails the test instead of hanging it."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{' '.join(process.args)} hung; stderr:\n{stderr}") from None
    completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    completed.pid = process.pid  # rank 0's: the event files name it
    return completed


def history(run_dir: Path) -> list[dict]:
    return json.loads(load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["history"])


PRESS_CTRL_C = """
import os, signal
from trainlab.training.module import TrainingModule

original = TrainingModule.on_train_epoch_end


def pressing(self):  # Ctrl-C on rank 0 alone, at the end of epoch 2's training
    if self.current_epoch == 1 and self.trainer.global_rank == 0:
        os.kill(os.getpid(), signal.SIGINT)
    original(self)


TrainingModule.on_train_epoch_end = pressing
from trainlab.cli import train

train()
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The runs the tests look at, started at once (each rank mostly waits for the others to
    start): ``ddp`` two processes, its run dir left to trainlab (outputs/<date>/<time>);
    ``one`` one process with the global batch; ``diverged`` two processes with a huge lr;
    ``pressed`` two processes, Ctrl-C pressed on rank 0 in epoch 2, and ``resumed``, that run
    resumed (started as soon as it stopped). Each: (cwd, result)."""
    cwd = {name: tmp_path_factory.mktemp(name) for name in ("ddp", "one", "diverged", "pressed")}
    press = cwd["pressed"] / "press.py"
    press.write_text(PRESS_CTRL_C)
    started = {
        "ddp": start(*BASE, *DDP, cwd=cwd["ddp"]),
        "one": start(*BASE, *NO_FILES, "data.batch_size=32", "hydra.run.dir=run", cwd=cwd["one"]),
        "diverged": start(
            *BASE, *DDP, *NO_FILES, "optimizer=sgd", "optimizer.lr=1e6", "hydra.run.dir=run", cwd=cwd["diverged"]
        ),
        "pressed": start(
            *BASE, *DDP, *NO_FILES, f"hydra.run.dir={cwd['pressed'] / 'run'}", cwd=cwd["pressed"], script=press
        ),
    }
    try:
        pressed = finish(started.pop("pressed"))
        stopped = cwd["pressed"] / "run" / "summary.json"
        summary = json.loads(stopped.read_text()) if stopped.is_file() else {}  # as it stopped
        started["resumed"] = start(f"resume={cwd['pressed'] / 'run'}", cwd=cwd["pressed"])  # two processes again
        done = {name: (cwd.get(name, cwd["pressed"]), finish(process)) for name, process in started.items()}
    finally:  # nothing left running, whatever failed
        for process in started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    return done | {"pressed": (cwd["pressed"], pressed, summary)}


def ddp_dir(runs) -> Path:
    (run_dir,) = (runs["ddp"][0] / "outputs").glob("*/*")  # rank 1 made no directory of its own
    return run_dir


def test_two_processes_train_as_one_with_the_global_batch(runs):
    for name in ("ddp", "one"):
        assert runs[name][1].returncode == 0, runs[name][1].stderr
    run_dir, one_dir = ddp_dir(runs), runs["one"][0] / "run"
    two_epochs, one_epochs = history(run_dir), history(one_dir)
    assert len(two_epochs) == len(one_epochs) == 3
    for two, alone in zip(two_epochs, one_epochs, strict=True):
        for key in ("val/loss", "train/loss", "val/acc"):
            assert two[key] == pytest.approx(alone[key], rel=1e-4), key
    two_summary = json.loads((run_dir / "summary.json").read_text())
    one_summary = json.loads((one_dir / "summary.json").read_text())
    assert two_summary["optimizer_steps"] == one_summary["optimizer_steps"]  # global mini-batches
    for key, value in one_summary["metrics"].items():  # val of the best epoch, test of its weights
        assert two_summary["metrics"][key] == pytest.approx(value, rel=1e-4), key


def test_rank_zero_alone_writes_one_run_dir_and_prints_one_table(runs):
    from trainlab.predict import Predictor

    out = runs["ddp"][1]
    assert out.returncode == 0, out.stderr
    run_dir = ddp_dir(runs)
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "overrides.yaml", "summary.json", "preprocessing.json", "decision_boundary.png"} <= names
    assert {"best.ckpt", "last.ckpt"} == {p.name for p in (run_dir / "checkpoints").iterdir()}
    events = list(run_dir.glob("events.out.tfevents.*"))
    assert events and {e.name.split(".")[-2] for e in events} == {str(out.pid)}  # rank 0's process only
    assert not list(run_dir.glob("**/*.tmp"))
    assert {p.name for p in run_dir.glob("*.log")} == {"train.log"}  # rank 1's log file neither
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 3
    assert out.stdout.count("trainlab run: finished") == 1
    said = out.stdout + out.stderr  # rank 1 says nothing: not its Lightning lines, not the warnings
    assert "GLOBAL_RANK: 1" not in said and said.count("early stopping cannot fire") == 1
    assert out.stdout.count("run directory") == 1
    assert "trainer.devices=2" in (run_dir / "overrides.yaml").read_text()
    predictor = Predictor.from_run(run_dir)
    import pandas as pd

    frame = pd.DataFrame({"lectures": [1.0, 9.0], "hours": [4.0, 8.0]})
    assert len(predictor.predict(frame)) == 2


def test_divergence_stops_every_rank_at_the_same_step(runs):
    cwd, out = runs["diverged"]
    assert out.returncode == 3, out.stderr
    assert out.stderr.count("error: diverged at epoch 1") == 1  # rank 0 says it, once
    summary = json.loads((cwd / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epoch"] == 1


def test_ctrl_c_on_one_rank_stops_every_rank_and_the_run_resumes_exactly(runs):
    cwd, out, summary = runs["pressed"]
    run_dir = cwd / "run"
    assert out.returncode == 130, out.stderr
    assert out.stderr.count("interrupted") == 1 and f"resume={run_dir}" in out.stderr
    assert summary["status"] == "interrupted" and summary["epochs_kept"] == 1

    resumed = runs["resumed"][1]
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 3
    uninterrupted = ddp_dir(runs)
    expected = json.loads((uninterrupted / "summary.json").read_text())["metrics"]["val/loss"]
    assert summary["metrics"]["val/loss"] == pytest.approx(expected, rel=1e-5)
    assert [h["val/loss"] for h in history(run_dir)] == pytest.approx(
        [h["val/loss"] for h in history(uninterrupted)], rel=1e-5
    )


def test_the_python_api_refuses_several_devices_with_one_message(tmp_path):
    from trainlab import run

    with pytest.raises(ConfigError, match=r"trainer.devices=2 trains in 2 processes, which trainlab.run\(\) cannot"):
        run([*BASE, *DDP], output_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.strategy=ddp_spawn"], "trainer.strategy='ddp_spawn' is not allowed: auto or ddp (ddp_spawn"),
        (["trainer.num_nodes=0"], "trainer.num_nodes=0 is not allowed: an integer >= 1"),
        (["trainer.devices=2", "tune=lr_find"], "tune='lr_find' is not allowed: none with trainer.devices=2"),
        (["trainer.devices=2", "data.folds=3"], "data.folds=3 is not allowed: 1 with trainer.devices=2"),
    ],
)
def test_what_several_devices_cannot_do_is_refused(overrides, message):
    from trainlab.config.composing import compose
    from trainlab.config.validate import validate

    with pytest.raises(ConfigError) as error:
        validate(compose(overrides)[0])
    assert message in str(error.value)


def test_each_rank_takes_its_slice_of_the_same_global_mini_batches():
    x, y = torch.arange(50.0).reshape(50, 1), torch.zeros(50)
    alone = ChunkLoader(x, y, batch_size=8, steps_per_call=3, seed=1)
    ranks = [ChunkLoader(x, y, batch_size=4, steps_per_call=3, seed=1, world=2, rank=r) for r in (0, 1)]
    assert len(alone) == len(ranks[0]) == len(ranks[1]) and ranks[0].n_batches == alone.n_batches == 7
    for epoch in (0, 3):
        for loader in (alone, *ranks):
            loader.sampler.set_epoch(epoch)
        steps = [shard for chunk in alone for shard in chunk.shards()]
        mine = [[shard for chunk in loader for shard in chunk.shards()] for loader in ranks]
        for (rows, n), (first, n0), (second, n1) in zip(steps, *mine, strict=True):
            assert n == n0 == n1 == len(rows)  # every rank knows the global mini-batch's rows
            assert torch.equal(torch.cat([first, second]), rows)
        assert [len(s[0]) for s in mine[1]][-1] == 0  # 50 = 6 x 8 + 2: the last 2 rows are rank 0's


def test_every_rank_resolves_one_run_dir(monkeypatch):
    from trainlab.config.launch import hydra_run_dir

    for name in ("TRAINLAB_RUN_DIR", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "abc123")  # torchrun: every rank of one launch alike
    assert hydra_run_dir(None, None) == os.path.join("outputs", "torchrun-abc123")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")  # torchrun's default id names no launch
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_NTASKS", "4")  # an allocation of 4: a plain run in it gets a fresh dir of its own
    assert "slurm" not in hydra_run_dir(None, None)
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")  # srun's 4 tasks of step 3: one run on 4 ranks
    monkeypatch.setenv("SLURM_STEP_ID", "3")
    assert hydra_run_dir(None, None) == os.path.join("outputs", "slurm-77-3")
    monkeypatch.setenv("TRAINLAB_RUN_DIR", "/runs/decided-by-rank-0")  # what Lightning's children inherit
    assert hydra_run_dir(None, None) == hydra_run_dir("/runs/other", None) == "/runs/decided-by-rank-0"


def test_a_sweep_trains_each_job_on_one_device_and_says_so_before_any_job(tmp_path, monkeypatch, capsys):
    from trainlab import cli
    from trainlab.config.composing import compose
    from trainlab.config.stackable import check_stackable

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["train.py", "-m", "trainer.devices=2", "seed=1,2"])
    with pytest.raises(SystemExit) as exit_info:
        cli.train()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "2 of 2 sweep jobs cannot run" in err and "a sweep (-m) trains each job on one device" in err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match=r"trainer.devices=2: a sweep \(-m\) trains each job on one device"):
        check_stackable(compose(["trainer.devices=2"])[0])  # run_sweep's stacks too
