"""`trainlab-course --only CLAIM`: one claim's experiment and a page of it; an unknown claim
refused in one line, before any work."""

import subprocess
import sys

import pytest

from trainlab.course import CLAIMS, claim_name
from trainlab.course.__main__ import main


def _course(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainlab.course", *args], capture_output=True, text=True)


def test_only_one_claim_runs_it_and_writes_its_page(tmp_path):
    done = _course("--out", str(tmp_path), "--only", "perceptron")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 claim in ")
    page = (tmp_path / "index.html").read_text()
    assert "--only perceptron" in page  # the page names the command that made it
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "index.html")[0].startswith("perceptron")


def test_an_unknown_claim_is_refused_with_the_nearest_name_and_the_allowed_ones(tmp_path, capsys):
    out = tmp_path / "course"
    with pytest.raises(SystemExit) as stop:
        main(["--out", str(out), "--only", "pass_the_clas"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--only 'pass_the_clas' is not a claim (did you mean 'pass_the_class'?)" in error
    assert all(claim_name(claim) in error for claim in CLAIMS)
    assert not out.exists()  # refused before any work
