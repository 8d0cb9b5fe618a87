"""The test suite's own scheduling (tests/conftest.py, ``pytest_xdist_make_scheduler``): under
``-n 2`` each file's tests run in one worker (its module fixtures built once), and the
``scheduling.TOGETHER`` files (the course's, the DDP runs') share one worker."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scheduling import TOGETHER, scope_of

pytest.importorskip("xdist")

HERE = Path(__file__).resolve().parent

# Each test appends "<file> <worker>" to the log the outer test reads.
TEST_FILE = """
import os

def _note(name):
    with open(os.environ["WORKERS_LOG"], "a") as log:
        log.write(f"{name} {os.environ.get('PYTEST_XDIST_WORKER', 'none')}\\n")
"""


def test_each_file_runs_in_one_worker_and_the_ddp_files_together(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    # the hook itself, from the suite's conftest (its TOGETHER prefixes are "tests/...")
    (tests / "conftest.py").write_text("from conftest_under_test import pytest_xdist_make_scheduler  # noqa: F401\n")
    files = ["test_a.py", "test_b.py", "test_ddp.py", "test_ddp_faults.py"]
    for name in files:
        body = "".join(f"\ndef test_{i}():\n    _note({name!r})\n" for i in range(6))
        (tests / name).write_text(TEST_FILE + body)
    (tmp_path / "conftest_under_test.py").write_text((HERE / "conftest.py").read_text())
    log = tmp_path / "workers.log"
    env = {**os.environ, "WORKERS_LOG": str(log), "PYTHONPATH": os.pathsep.join([str(tmp_path), str(HERE)])}
    pytest_two_workers = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    done = subprocess.run(
        [*pytest_two_workers, "--rootdir", str(tmp_path), "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        name, worker = line.split()
        workers.setdefault(name, set()).add(worker)
    assert sorted(workers) == sorted(files) and all(len(w) == 1 for w in workers.values()), workers
    assert workers["test_ddp.py"] == workers["test_ddp_faults.py"], workers
    assert {w for ws in workers.values() for w in ws} <= {"gw0", "gw1"}, workers


def test_the_together_files_are_one_unit_and_each_other_file_its_own():
    """The scope the scheduler gives each test id (xdist hands each scope to one worker)."""
    assert scope_of("tests/test_ddp.py::test_a") == scope_of("tests/test_ddp_faults.py::test_b[x]") == "ddp"
    course = next(prefix for prefix, name in TOGETHER.items() if name == "course")
    assert scope_of(f"{course}test_lecture.py::test_a") == scope_of(f"{course}test_claims.py::test_b") == "course"
    assert scope_of("tests/test_a.py::test_one") == scope_of("tests/test_a.py::test_two[1]") == "tests/test_a.py"
    assert scope_of("tests/test_a.py::test_one") != scope_of("tests/test_b.py::test_one")
