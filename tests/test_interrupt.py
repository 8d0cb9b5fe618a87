"""Ctrl-C (SIGINT) stops cleanly: the last finished epoch's checkpoint, a summary, exit 130."""

import json
import signal

from cli_helpers import QUIET, start, train, wait_for_epoch

from trainlab.checkpoints import load_checkpoint

LONG = ["data.n_samples=20000", "trainer.max_epochs=4", "pictures.enabled=false", *QUIET]


def test_ctrl_c_keeps_the_last_epoch_says_interrupted_and_can_resume(tmp_path):
    run_dir = tmp_path / "run"
    process = start(*LONG, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    wait_for_epoch(run_dir / "checkpoints" / "last.ckpt", 0, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted in epoch" in stderr and f"resume={run_dir}" in stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    kept = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert summary["epochs"] == kept["epoch"] + 1 >= 1
    assert summary["last_checkpoint"] == str(run_dir / "checkpoints" / "last.ckpt")

    resumed = train(*LONG, f"resume={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] in ("finished", "early-stopped") and summary["epochs"] == 4
