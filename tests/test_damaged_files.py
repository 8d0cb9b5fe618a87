"""A damaged file in a run directory (a partial copy, a disk error): resume, predict and
Predictor name the file, what is wrong and what to do, in one line; never a raw parse error.

What reads which file: resume reads the checkpoint it continues from (last.ckpt, or
ckpt_path's), best.ckpt (checked whole: the resumed run names it), summary.json (the status),
config.yaml (the config check) and overrides.yaml (the config it composes). Predict reads
summary.json (which checkpoint is best) and that checkpoint. preprocessing.json is read by
neither (each checkpoint holds the preprocessing): a resume writes it again.

Each damage is made on a copy of one of two runs built once: a finished run, and a run
interrupted in its third epoch (last.ckpt: epoch 2; best.ckpt: epoch 1).
"""

import io
import json
import random
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_helpers import command, train
from interrupting import ctrl_c_in_epoch
from overrides import QUIET

from trainlab import run
from trainlab.cli.predict_command import predict
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import load_checkpoint
from trainlab.files.rundir import DamagedFile
from trainlab.predict import Predictor

# lr 0.3: the best epoch is the first, so best.ckpt and last.ckpt hold different epochs.
COMMON = ["data.n_samples=300", "optimizer.lr=0.3", "regularization=[dropout]", "logger=none"]
COMMON += ["pictures.enabled=false", "speed.last_checkpoint_seconds=0", *QUIET]
FINISHED = [*COMMON, "trainer.max_epochs=3"]
WHOLE = [*COMMON, "trainer.max_epochs=5"]  # the interrupted run's config
INPUT = "lectures,hours\n0,0\n2,3\n10,20\n25,40\n"

LAST, BEST = "checkpoints/last.ckpt", "checkpoints/best.ckpt"
SUMMARY, CONFIG, OVERRIDES, PREPROCESSING = "summary.json", "config.yaml", "overrides.yaml", "preprocessing.json"
DAMAGES = ["half", "zero", "random"]
# What each damaged file's message says to do, when resuming.
RESUME_REMEDY = {
    LAST: "resume from the best epoch's checkpoint instead: ckpt_path=",
    BEST: "or remove it to resume without it",
    SUMMARY: "resume reads the run's status from it",
    CONFIG: "resume checks the run's config against it",
    OVERRIDES: "resume composes the run's config from it",
}
WHAT_IS_WRONG = {  # the problem each damage gives, per kind of file
    ("ckpt", "half"): "truncated or not a checkpoint file: ",
    ("ckpt", "zero"): "truncated or not a checkpoint file: 0 bytes",
    ("ckpt", "random"): "truncated or not a checkpoint file: not the zip archive torch.save writes",
    ("json", "half"): "not valid JSON at line",
    ("yaml", "half"): "truncated: its last line is cut",
    ("json", "zero"): "empty: 0 bytes",
    ("yaml", "zero"): "empty: 0 bytes",
    ("json", "random"): "not UTF-8 text",
    ("yaml", "random"): "not UTF-8 text",
}


def damage(path: Path, how: str) -> None:
    """Cut ``path`` to half its bytes (mid-line, as a partial copy stops), to zero bytes, or
    replace it by as many random bytes (a fixed seed)."""
    data = path.read_bytes()
    if how == "half":
        cut = data[: len(data) // 2]
        path.write_bytes(cut[:-1] if cut.endswith(b"\n") else cut)
    elif how == "zero":
        path.write_bytes(b"")
    else:
        path.write_bytes(random.Random(23).randbytes(len(data)))


def kind(name: str) -> str:
    return name.rsplit(".", 1)[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"finished": its run dir, "interrupted": its run dir}, built once; copy before damaging."""
    base = tmp_path_factory.mktemp("runs")
    run(FINISHED, output_dir=base / "finished", verbose=False)
    with pytest.MonkeyPatch.context() as monkeypatch, ctrl_c_in_epoch(monkeypatch, 3):
        run(WHOLE, output_dir=base / "interrupted", verbose=False)
    return {"finished": base / "finished", "interrupted": base / "interrupted"}


@pytest.fixture
def copy_of(runs, tmp_path):
    def copy(name: str) -> Path:
        return Path(shutil.copytree(runs[name], tmp_path / name))

    return copy


def one_line_naming(error: BaseException, path: Path) -> str:
    message = str(error)
    assert "\n" not in message and f"{path} is damaged (" in message, message
    return message


# Each way a file's reading can find damage, once (config.yaml and overrides.yaml share their
# reading's empty and not-UTF-8 checks with summary.json's; best.ckpt its checks with last.ckpt's).
RESUMED = [(LAST, how) for how in DAMAGES] + [(SUMMARY, how) for how in DAMAGES]
RESUMED += [(BEST, "random"), (CONFIG, "half"), (OVERRIDES, "half"), (OVERRIDES, "zero")]


@pytest.mark.parametrize(("name", "how"), RESUMED)
def test_resume_names_the_damaged_file_and_what_to_do(copy_of, name, how):
    run_dir = copy_of("interrupted")
    damage(run_dir / name, how)
    files = [LAST, BEST, SUMMARY, CONFIG, OVERRIDES, PREPROCESSING]
    before = {f: (run_dir / f).read_bytes() for f in files}
    with pytest.raises(ConfigError) as refused:
        run([f"resume={run_dir}"], verbose=False)
    message = one_line_naming(refused.value, run_dir / name)
    assert WHAT_IS_WRONG[kind(name), how] in message and RESUME_REMEDY[name] in message
    assert {f: (run_dir / f).read_bytes() for f in files} == before  # refused before anything was written


@pytest.mark.parametrize("name", [LAST, BEST, CONFIG])
def test_continuing_a_finished_run_names_the_damaged_file(copy_of, name):
    run_dir = copy_of("finished")
    damage(run_dir / name, "half")
    with pytest.raises(ConfigError) as refused:
        run([f"resume={run_dir}", "trainer.max_epochs=5"], verbose=False)
    assert RESUME_REMEDY[name] in one_line_naming(refused.value, run_dir / name)


def test_a_damaged_last_ckpt_without_a_whole_best_ckpt_says_to_start_again(copy_of):
    run_dir = copy_of("interrupted")
    damage(run_dir / LAST, "half")
    damage(run_dir / BEST, "zero")
    with pytest.raises(DamagedFile, match=r"last\.ckpt is damaged .* no other whole checkpoint .* start the run again"):
        run([f"resume={run_dir}"], verbose=False)


def test_resuming_from_best_ckpt_as_the_message_says_ends_as_an_uninterrupted_run(copy_of, tmp_path):
    # The remedy a damaged last.ckpt's message gives: ckpt_path=<best.ckpt> trains the epochs
    # after the best one again, to the numbers of a run that never stopped.
    run_dir = copy_of("interrupted")
    damage(run_dir / LAST, "random")
    with pytest.raises(DamagedFile) as refused:
        run([f"resume={run_dir}"], verbose=False)
    best_epoch = load_checkpoint(run_dir / BEST)["epoch"] + 1
    assert f"ckpt_path={run_dir / BEST} (epoch {best_epoch}; the epochs after it train again" in str(refused.value)
    resumed = run([f"ckpt_path={run_dir / BEST}"], verbose=False)
    whole = run(WHOLE, output_dir=tmp_path / "whole", verbose=False)
    assert [r["train/loss"] for r in resumed.history] == pytest.approx([r["train/loss"] for r in whole.history])
    assert resumed.best_epoch == whole.best_epoch and resumed.metrics == pytest.approx(whole.metrics, abs=1e-6)
    for key, weights in whole.model.state_dict().items():
        assert (resumed.model.state_dict()[key] - weights).abs().max() <= 1e-6, key
    assert load_checkpoint(run_dir / LAST)["epoch"] == 4  # written whole again


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("name", [BEST, SUMMARY])
def test_predict_names_the_damaged_file(copy_of, tmp_path, capsys, name, how):
    run_dir = copy_of("finished")
    damage(run_dir / name, how)
    with pytest.raises(ConfigError) as refused:
        Predictor.from_run(run_dir)
    assert WHAT_IS_WRONG[kind(name), how] in one_line_naming(refused.value, run_dir / name)
    # The command line (trainlab-predict) says the same in one line, exit code 2, no output file.
    (tmp_path / "input.csv").write_text(INPUT)
    output = tmp_path / "out.csv"
    with pytest.raises(SystemExit) as exited:
        predict([f"run={run_dir}", f"input={tmp_path / 'input.csv'}", f"output={output}"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and f"{run_dir / name} is damaged (" in err
    assert not output.exists()


@pytest.mark.parametrize("name", [LAST, CONFIG, OVERRIDES, PREPROCESSING])
def test_predict_does_not_read_the_other_files(copy_of, runs, name):
    run_dir = copy_of("finished")
    damage(run_dir / name, "zero")
    frame = pd.read_csv(io.StringIO(INPUT))
    ours = Predictor.from_run(run_dir).predict(frame, proba=True)
    theirs = Predictor.from_run(runs["finished"]).predict(frame, proba=True)
    assert ours.equals(theirs)


def test_a_copied_run_predicts_from_its_own_best_ckpt(copy_of):
    # summary.json names best.ckpt where the run was made; a copy reads its own.
    run_dir = copy_of("finished")
    damage(run_dir / BEST, "half")
    with pytest.raises(DamagedFile, match=str(run_dir / BEST)):
        Predictor.from_run(run_dir)


def test_resume_writes_a_damaged_preprocessing_json_again(copy_of):
    run_dir = copy_of("interrupted")
    damage(run_dir / PREPROCESSING, "random")
    run([f"resume={run_dir}"], verbose=False)
    written = json.loads((run_dir / PREPROCESSING).read_text())
    assert written == json.loads(load_checkpoint(run_dir / BEST)["trainlab"])["preprocessing"]


def rewritten(path: Path, change) -> Path:
    checkpoint = load_checkpoint(path)
    change(checkpoint)
    torch.save(checkpoint, path)
    return path


def test_a_checkpoint_whose_trainlab_entry_is_damaged_or_incomplete(copy_of):
    run_dir = copy_of("finished")
    best = run_dir / BEST
    text = load_checkpoint(best)["trainlab"]

    rewritten(best, lambda c: c.update(trainlab=text[: len(text) // 2]))
    with pytest.raises(DamagedFile, match=r"best\.ckpt is damaged \(its trainlab entry, .* is not valid JSON"):
        Predictor.from_run(run_dir)

    def without_target(checkpoint):
        extra = json.loads(text)
        del extra["preprocessing"]["target"]
        checkpoint["trainlab"] = json.dumps(extra)

    rewritten(best, without_target)
    with pytest.raises(ConfigError, match=r"best\.ckpt is incomplete: it lacks 'target'"):
        Predictor.from_checkpoint(best)
    rewritten(best, lambda c: c.update(trainlab=text, state_dict={}))
    with pytest.raises(ConfigError, match=r"best\.ckpt does not hold a model trainlab can rebuild: .*Missing key"):
        Predictor.from_checkpoint(best)
    rewritten(best, lambda c: c.pop("state_dict"))
    with pytest.raises(ConfigError, match=r"best\.ckpt is incomplete: it lacks 'state_dict'"):
        Predictor.from_checkpoint(best)


def test_a_corrupted_byte_inside_a_whole_sized_checkpoint_fails_its_crc(tmp_path, runs):
    path = Path(shutil.copy(runs["finished"] / LAST, tmp_path / "last.ckpt"))
    with zipfile.ZipFile(path) as archive:
        tensors = [member for member in archive.infolist() if "/data/" in member.filename]  # not data.pkl
        tensor = max(tensors, key=lambda member: member.file_size)
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[tensor.header_offset + 26 : tensor.header_offset + 30])
    start = tensor.header_offset + 30 + name_length + extra_length  # the member's bytes, stored as they are
    data[start + tensor.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert torch.load(path, weights_only=True)["epoch"] == 2  # torch.load reads it without a word
    with pytest.raises(DamagedFile, match=r"truncated or not a checkpoint file: .* fails its CRC check"):
        load_checkpoint(path)


def test_the_command_lines_give_one_line_and_exit_2(copy_of, tmp_path):
    interrupted, finished = copy_of("interrupted"), copy_of("finished")
    damage(interrupted / LAST, "half")
    out = train(f"resume={interrupted}", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"error: {interrupted / LAST} is damaged (truncated or not a checkpoint file" in out.stderr
    assert f"ckpt_path={interrupted / BEST}" in out.stderr

    damage(finished / SUMMARY, "random")
    (tmp_path / "input.csv").write_text(INPUT)
    out = subprocess.run(
        command(f"run={finished}", f"input={tmp_path / 'input.csv'}", script="predict.py"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith(f"error: {finished / SUMMARY} is damaged (not UTF-8 text") and not out.stdout
    assert not (tmp_path / "submission.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("name", [LAST, BEST, SUMMARY, CONFIG, OVERRIDES])
def test_every_damage_on_the_command_lines(copy_of, tmp_path, name, how):
    run_dir = copy_of("interrupted")
    damage(run_dir / name, how)
    out = train(f"resume={run_dir}", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"error: {run_dir / name} is damaged (" in out.stderr and RESUME_REMEDY[name] in out.stderr
    if name in (BEST, SUMMARY):
        (tmp_path / "input.csv").write_text(INPUT)
        finished = copy_of("finished")
        damage(finished / name, how)
        predicted = subprocess.run(
            command(f"run={finished}", f"input={tmp_path / 'input.csv'}", script="predict.py"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert predicted.returncode == 2 and "Traceback" not in predicted.stderr, predicted.stderr
        assert f"error: {finished / name} is damaged (" in predicted.stderr
