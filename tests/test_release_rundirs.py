"""Run directories written by the release before the layout change still predict and resume
(tests/fixtures/release/rundirs/, moved to another directory as a user might move them)."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from release import FIXTURES, rows

import trainlab
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import load_checkpoint
from trainlab.predict import Predictor

EXPECTED = pd.read_json(FIXTURES / "rundirs" / "expected.json", typ="series")


@pytest.fixture
def rundir(tmp_path):
    def copy(name: str) -> Path:
        return Path(shutil.copytree(FIXTURES / "rundirs" / name, tmp_path / name))

    return copy


@pytest.mark.parametrize("name", ["lone", "member"])
def test_a_finished_run_of_the_release_predicts_as_it_did(rundir, name):
    frame = pd.DataFrame(EXPECTED["input"])
    predicted = Predictor.from_run(rundir(name)).predict(frame, proba=True)
    expected = pd.DataFrame(EXPECTED[name]["predictions"])
    assert list(predicted.columns) == list(expected.columns)
    assert predicted["passed"].tolist() == expected["passed"].tolist()
    assert predicted.filter(like="proba_").to_numpy() == pytest.approx(expected.filter(like="proba_").to_numpy())


@pytest.mark.parametrize("name", ["lone", "member"])
def test_a_finished_run_of_the_release_has_nothing_to_resume(rundir, name):
    with pytest.raises(ConfigError, match=r"that run has finished; there is nothing to resume"):
        trainlab.run([f"resume={rundir(name)}"], verbose=False)


@pytest.mark.parametrize("name", ["interrupted", "member_interrupted"])
def test_an_interrupted_run_of_the_release_resumes_to_the_numbers_it_did(rundir, name):
    """The lone run's are those of its uninterrupted twin; the member's differ from its own in
    the stack (its dropout masks were drawn from the stack's random stream)."""
    result = trainlab.run([f"resume={rundir(name)}"], verbose=False)
    expected = EXPECTED[name]
    assert result.best_epoch == expected["best_epoch"]
    assert rows(result.history) == [pytest.approx(row, rel=1e-6) for row in expected["history"]]
    assert result.metrics == pytest.approx(expected["metrics"], rel=1e-6)
    assert (result.run_dir / "summary.json").is_file()
    # best.ckpt, where the run is now, holds the best epoch (its writer follows the run's record,
    # not a best score a checkpoint remembers from where the run was before it moved)
    assert load_checkpoint(result.run_dir / "checkpoints" / "best.ckpt")["epoch"] + 1 == result.best_epoch
