"""Exact resume: a run killed with SIGKILL mid-epoch, resumed, ends as one that never stopped."""

import json
import signal
import time

import pytest
from cli_helpers import start, train, wait_for_epoch
from interrupting import ctrl_c_in_epoch
from overrides import QUIET

from trainlab import run
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import load_checkpoint

# ~375 optimizer steps per epoch (will_i_pass, 12k training rows, batch 32), dropout on.
# last.ckpt every epoch, so the kill lands after a known one (the interval is tested elsewhere).
LONG = ["data.n_samples=20000", "trainer.max_epochs=6", "pictures.enabled=false", *QUIET]
LONG += ["speed.last_checkpoint_seconds=0"]


def test_an_interrupted_run_resumed_in_process_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    # Ctrl-C inside epoch 3 (dropout on, last.ckpt every epoch): the resume repeats epoch 3
    # from last.ckpt's weights, optimizer, counters and random state, and ends as a run that
    # never stopped.
    common = ["data.n_samples=300", "trainer.max_epochs=5", "speed.last_checkpoint_seconds=0", "logger=none"]
    common += ["pictures.enabled=false", "regularization=[dropout]", *QUIET]
    whole = run(common, output_dir=tmp_path / "whole")

    with ctrl_c_in_epoch(monkeypatch, 3) as stopped:
        run(common, output_dir=tmp_path / "cut")
    assert "2 kept in" in str(stopped.value)
    # The directory alone: the run's own overrides come from its overrides.yaml.
    resumed = run([f"resume={tmp_path / 'cut'}", *QUIET])

    assert [r["train/loss"] for r in resumed.history] == pytest.approx([r["train/loss"] for r in whole.history])
    assert resumed.best_epoch == whole.best_epoch and resumed.metrics == pytest.approx(whole.metrics, abs=1e-6)
    for name, value in whole.model.state_dict().items():
        assert (resumed.model.state_dict()[name] - value).abs().max() <= 1e-6, name


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    process = start(*LONG, f"hydra.run.dir={killed}", cwd=tmp_path)
    wait_for_epoch(killed / "checkpoints" / "last.ckpt", 1, process)
    time.sleep(0.15)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not (killed / "summary.json").exists()
    stopped_at = load_checkpoint(killed / "checkpoints" / "last.ckpt")["epoch"]
    assert stopped_at < 5

    resumed = train(f"resume={killed}", cwd=tmp_path)  # the directory alone
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = train(*LONG, f"hydra.run.dir={whole}", cwd=tmp_path)
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    a = load_checkpoint(killed / "checkpoints" / "last.ckpt")
    b = load_checkpoint(whole / "checkpoints" / "last.ckpt")
    assert a["epoch"] == b["epoch"] == 5 and a["global_step"] == b["global_step"]
    for name, weights in b["state_dict"].items():
        assert (a["state_dict"][name] - weights).abs().max() <= 1e-6, name
    summary_a = json.loads((killed / "summary.json").read_text())
    summary_b = json.loads((whole / "summary.json").read_text())
    assert summary_a["best_epoch"] == summary_b["best_epoch"]
    assert summary_a["metrics"] == pytest.approx(summary_b["metrics"], abs=1e-6)
    # The resumed run stayed in its directory; nothing else was written beside the two runs.
    assert summary_a["run_dir"] == str(killed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "whole"]
    assert not list((killed / "checkpoints").glob("*.tmp"))


def test_a_failing_checkpoint_write_leaves_the_previous_last_ckpt(tmp_path, break_last_ckpt):
    break_last_ckpt(2)
    overrides = ["data.n_samples=300", "trainer.max_epochs=5", "speed.async_checkpoint=false", *QUIET]
    overrides += ["speed.last_checkpoint_seconds=0"]
    with pytest.raises(OSError, match="disk full"):
        run(overrides, output_dir=tmp_path)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["epoch"] == 1  # epochs 0 and 1 finished and were kept whole
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))

    break_last_ckpt(None)
    result = run([*overrides, f"resume={tmp_path}"])
    assert result.run_dir == tmp_path
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5]


def test_resume_refuses_other_overrides_and_finished_runs(tmp_path):
    overrides = ["data.n_samples=200", "trainer.max_epochs=2", *QUIET]
    run(overrides, output_dir=tmp_path)
    finished = r"that run has finished; there is nothing to resume .* add trainer.max_epochs=<more than 2>"
    with pytest.raises(ConfigError, match=finished):  # continuing it: tests/test_continue_finished.py
        run([*overrides, f"resume={tmp_path}"])
    (tmp_path / "summary.json").unlink()  # as if it had been killed
    message = r"optimizer.lr=0.5: a resumed run keeps what it was trained with \(optimizer.lr=0.01\)"
    with pytest.raises(ConfigError, match=message):
        run([*overrides, "optimizer.lr=0.5", f"resume={tmp_path}"])
    with pytest.raises(ConfigError, match=r"optimizer=sgd: a resumed run keeps what it was trained with \(optimizer"):
        run(["optimizer=sgd", f"resume={tmp_path}"])
    with pytest.raises(ConfigError, match=r"resume='.*nowhere' is not allowed: .* not a trainlab run directory"):
        run([*overrides, f"resume={tmp_path / 'nowhere'}"])
    with pytest.raises(ConfigError, match=r"ckpt_path=.* a checkpoint in a run's checkpoints/"):
        run([*overrides, f"ckpt_path={tmp_path / 'x.ckpt'}"])


def test_resume_by_directory_uses_the_runs_overrides_and_allows_more_epochs(tmp_path, monkeypatch):
    own = ["data=moons", "data.n_samples=200", "regularization=[dropout]", "trainer.max_epochs=3", *QUIET]
    with ctrl_c_in_epoch(monkeypatch, 2):
        run([*own, "speed.last_checkpoint_seconds=0"], output_dir=tmp_path)
    # Leaving out regularization=[dropout] and data=moons is fine: the run's own are used.
    resumed = run([f"resume={tmp_path}", "trainer.max_epochs=5", *QUIET])
    assert len(resumed.history) == 5
    assert resumed.config.data.name == "moons" and resumed.config.regularization.early_stopping is None
    saved = (tmp_path / "overrides.yaml").read_text()
    assert "data=moons" in saved and "trainer.max_epochs=5" in saved and "resume=" not in saved


def test_a_new_run_never_writes_into_a_finished_run(tmp_path):
    overrides = ["data.n_samples=200", "trainer.max_epochs=2", *QUIET]
    run(overrides, output_dir=tmp_path)
    before = (tmp_path / "summary.json").read_text()
    with pytest.raises(ConfigError, match=r"already holds a run .* resume="):
        run(overrides, output_dir=tmp_path)
    assert (tmp_path / "summary.json").read_text() == before
    # The command line names the same and exits 2; the run is untouched.
    out = train(*overrides, f"hydra.run.dir={tmp_path}", cwd=tmp_path.parent)
    assert out.returncode == 2 and "already holds a run" in out.stderr
    assert (tmp_path / "summary.json").read_text() == before


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    import datetime as dt

    from trainlab.config.launch import unique_dir

    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    first = unique_dir(tmp_path, now)
    first.mkdir(parents=True)
    second = unique_dir(tmp_path, now)
    assert (first.name, second.name) == ("03-04-05", "03-04-05-1")
