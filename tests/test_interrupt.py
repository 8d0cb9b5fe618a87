"""Ctrl-C (SIGINT) stops cleanly: the last finished epoch's checkpoint, a summary, exit 130, trainlab's
line alone; a resumed run says where it continues from."""

import json
import signal

from cli_helpers import start, train, wait_for_epoch
from overrides import QUIET

from trainlab.files.checkpoints import load_checkpoint

# last.ckpt every epoch, so the interrupt lands after a known one (the interval: test_checkpoint_writes.py).
LONG = ["data.n_samples=20000", "trainer.max_epochs=4", "pictures.enabled=false", *QUIET]
LONG += ["speed.last_checkpoint_seconds=0"]


def test_ctrl_c_keeps_the_last_epoch_says_interrupted_and_can_resume(tmp_path):
    run_dir = tmp_path / "run"
    process = start(*LONG, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    wait_for_epoch(run_dir / "checkpoints" / "last.ckpt", 0, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    last = run_dir / "checkpoints" / "last.ckpt"
    kept = load_checkpoint(last)
    done = summary["epochs_kept"]
    assert done == kept["epoch"] + 1 == summary["epochs"] >= 1
    assert summary["last_checkpoint"] == str(last)
    # trainlab's one line; not Lightning's "Detected KeyboardInterrupt, attempting graceful shutdown" beside it
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: interrupted in epoch ")
    assert line.endswith(f"{done} kept in {last}; continue with resume={run_dir}")
    assert "KeyboardInterrupt" not in stdout + stderr and "graceful shutdown" not in stdout + stderr
    assert "KeyboardInterrupt" not in (run_dir / "train.log").read_text()
    assert "GPU available: False" in stdout  # Lightning's other lines still show

    resumed = train(*LONG, f"resume={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] in ("finished", "early-stopped") and summary["epochs"] == 4
    # where it continues from, once, before it trains
    said = [line for line in resumed.stdout.splitlines() if "resuming" in line]
    expected = f" - resuming {last}: epoch {done} of 4 done, continuing at epoch {done + 1}"
    assert len(said) == 1 and said[0].endswith(expected), resumed.stdout
    assert resumed.stdout.index(expected) < resumed.stdout.index("Restoring states")
    assert expected in (run_dir / "train.log").read_text()


def test_ctrl_c_while_testing_is_an_interruption_that_resume_finishes(tmp_path, monkeypatch):
    import pytest

    from trainlab import run
    from trainlab.errors import Interrupted
    from trainlab.training.module import TrainingModule

    overrides = ["data.n_samples=300", "trainer.max_epochs=3", "pictures.enabled=false", *QUIET]

    def pressed(self, batch, batch_idx):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(TrainingModule, "test_step", pressed)
        with pytest.raises(Interrupted, match="interrupted after 3 epoch\\(s\\) of training, 3 kept in"):
            run(overrides, output_dir=tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_kept"] == 3

    result = run([*overrides, f"resume={tmp_path}"])
    assert len(result.history) == 3 and "test/acc" in result.metrics
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "finished"


def test_resume_after_an_early_stop_interrupted_in_test_trains_no_further(tmp_path, monkeypatch):
    import pytest

    from trainlab import run
    from trainlab.errors import Interrupted
    from trainlab.training.module import TrainingModule

    overrides = ["data.n_samples=300", "trainer.max_epochs=200", "pictures.enabled=false", *QUIET]
    overrides += ["regularization=[early_stopping]", "regularization.early_stopping.patience=2"]
    reference = run(overrides, output_dir=tmp_path / "reference")
    assert reference.stopped_early

    def pressed(self, batch, batch_idx):
        raise KeyboardInterrupt

    epochs = len(reference.history)
    for attempt in ([], [f"resume={tmp_path / 'run'}"]):  # stopped in test twice: the count survives a resume
        with monkeypatch.context() as patched:
            patched.setattr(TrainingModule, "test_step", pressed)
            with pytest.raises(Interrupted, match=f"after {epochs} epoch\\(s\\) of training, {epochs} kept in"):
                run([*overrides, *attempt], output_dir=tmp_path / "run")
    resumed = run([*overrides, f"resume={tmp_path / 'run'}"])
    assert len(resumed.history) == epochs and resumed.stopped_early
    assert resumed.metrics == pytest.approx(reference.metrics)


def test_ctrl_c_keeps_every_finished_epoch_though_last_ckpt_waits_between_writes(tmp_path, monkeypatch):
    """last.ckpt is written at most every 2 s; Ctrl-C still keeps every finished epoch: the
    last one's checkpoint, held in memory, is written as the run stops."""
    import pytest
    from interrupting import ctrl_c_in_epoch

    from trainlab import run

    overrides = ["data.n_samples=300", "trainer.max_epochs=8", "pictures.enabled=false", *QUIET]
    overrides += ["speed.last_checkpoint_seconds=3600"]  # no write before the last epoch's
    reference = run(overrides, output_dir=tmp_path / "reference")
    with ctrl_c_in_epoch(monkeypatch, 6) as stopped:
        run(overrides, output_dir=tmp_path / "run")
    assert "in epoch 6; 5 epoch(s) finished, 5 kept in" in str(stopped.value)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["epoch"] == 4  # epochs 0-4
    resumed = run([*overrides, f"resume={tmp_path / 'run'}"])
    for row, expected in zip(resumed.history, reference.history, strict=True):
        assert {k: v for k, v in row.items() if k != "epoch_seconds"} == pytest.approx(
            {k: v for k, v in expected.items() if k != "epoch_seconds"}, rel=1e-6
        )
    assert resumed.metrics == pytest.approx(reference.metrics, rel=1e-6)
