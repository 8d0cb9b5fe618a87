"""One study shared by several sweep processes, on each storage the README recommends for it:
a real PostgreSQL server of the tests' own (``postgres_server``; several machines) and Optuna's
journal file (several processes on one machine). Three workers finish ``n_trials`` between
them, each trial once, one of them a stacked batch; a worker SIGKILLed mid-trial has its trial
failed through the heartbeat, and the others finish the study. And the storage URL's checks:
each user error is one message naming the key."""

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
import pytest
import sqlalchemy.dialects.postgresql.base
import sqlalchemy.dialects.postgresql.psycopg2
from cli_helpers import command, train
from optuna.trial import TrialState
from overrides import QUIET
from postgres_server import serve

from trainlab.errors import ConfigError
from trainlab.search.heartbeat import COUNTED, HEARTBEAT, REASON, WORKER
from trainlab.search.results import BEST_FILE, TRIAL_FILE
from trainlab.search.settings import database_url, open_storage, storage_url
from trainlab.search.study import create_or_load

optuna.logging.set_verbosity(optuna.logging.WARNING)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TINY = ["data.n_samples=200", "pictures.enabled=false", "logger=none", *QUIET]
STUDY = "shared"

# Worker processes wait, once each has asked its first trials (its heartbeat started), until the
# test writes <barrier>/go: every worker holds a place in the study before any trains, whatever
# the order the busy machine starts them in. A worker given TRAINLAB_TEST_AFTER=<name> asks
# nothing before that worker has asked (its first batch's trials are numbered one after another).
BARRIER = """
import os, time
from pathlib import Path

if os.environ.get("TRAINLAB_TEST_BARRIER"):
    import optuna
    from trainlab.search.heartbeat import Heartbeat

    barrier, name = Path(os.environ["TRAINLAB_TEST_BARRIER"]), os.environ["TRAINLAB_TEST_WORKER"]
    after = os.environ.get("TRAINLAB_TEST_AFTER")
    enter, ask, held = Heartbeat.__enter__, optuna.Study.ask, []

    def wait_for(path):
        for _ in range(6000):  # 10 minutes at most: a test that died does not leave it waiting
            if path.exists():
                return
            time.sleep(0.1)

    def __enter__(self):
        entered = enter(self)
        if not held:
            held.append(True)
            (barrier / f"{name}.asked").touch()
            wait_for(barrier / "go")
        return entered

    def first_ask(self, *args, **kwargs):
        if after:
            wait_for(barrier / f"{after}.asked")
        return ask(self, *args, **kwargs)

    Heartbeat.__enter__, optuna.Study.ask = __enter__, first_ask
"""


@pytest.fixture(scope="session")
def postgresql():
    yield from serve()


@pytest.fixture(params=["postgresql", "journal"])
def storage(request, tmp_path) -> str:
    """The study's storage URL: a new database on the tests' PostgreSQL server, or a journal file."""
    if request.param == "journal":
        return f"journal:{tmp_path / 'optuna.log'}"
    name = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:60]
    url = request.getfixturevalue("postgresql").database(name)
    return url.replace("://postgres@", f"://postgres:{PASSWORD}@")  # the test server trusts any password


PASSWORD = "s3cret-pw"  # in the URL a study is shared by: never in what trainlab writes or shows


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path
    sweep_dir: Path

    def jobs(self) -> list[int]:
        return sorted(int(p.name) for p in self.sweep_dir.iterdir() if p.name.isdigit())


def start_workers(
    tmp_path: Path, storage: str, n_trials: int, workers: dict[str, list[str]], after: dict[str, str] | None = None
) -> list[Worker]:
    """A sweep process per name on the shared study, each with its own overrides, all held at
    the barrier after their first trials (``after``: name -> the worker whose first trials it
    waits for before asking its own); output in <name>.log (a pipe could fill up)."""
    inject, barrier = tmp_path / "inject", tmp_path / "barrier"
    inject.mkdir()
    barrier.mkdir()
    (inject / "sitecustomize.py").write_text(BARRIER)
    pythonpath = os.pathsep.join(p for p in (str(inject), os.environ.get("PYTHONPATH")) if p)
    started = []
    for name, overrides in workers.items():
        args = [
            "-m",
            "hydra/sweeper=optuna",
            f"hydra.sweeper.n_trials={n_trials}",
            "hydra.sweeper.pruner=none",
            f"hydra.sweeper.storage={storage}",
            f"hydra.sweeper.study_name={STUDY}",
            "optimizer.lr=tag(log,interval(1e-3,1e-1))",
            *TINY,
            f"hydra.sweep.dir={tmp_path / name}",
            *overrides,
        ]
        env = os.environ | {"COLUMNS": "120", "PYTHONPATH": pythonpath}
        env |= {"TRAINLAB_TEST_BARRIER": str(barrier), "TRAINLAB_TEST_WORKER": name}
        env |= {"TRAINLAB_TEST_AFTER": (after or {})[name]} if name in (after or {}) else {}
        log = tmp_path / f"{name}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(command(*args), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env)
        started.append(Worker(name, process, log, tmp_path / name))
    return started


def wait_for(condition, what: str, workers=(), timeout: float = 240.0):
    """Poll ``condition()`` until it holds; fail naming ``what`` (or a worker that ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.process.poll() is None, f"{worker.name} ended: {worker.log.read_text()[-3000:]}"
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def held(tmp_path: Path, workers: list[Worker]) -> None:
    """Until every worker has asked its first trials (and waits at the barrier)."""
    barrier = tmp_path / "barrier"
    wait_for(lambda: all((barrier / f"{w.name}.asked").exists() for w in workers), "every worker's trials", workers)


def release(tmp_path: Path) -> None:
    """The workers held at the barrier go on."""
    (tmp_path / "barrier" / "go").touch()


def finish(workers: list[Worker], timeout: float = 300.0) -> None:
    for worker in workers:
        try:
            code = worker.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, f"{worker.name}: exit {code}: {worker.log.read_text()[-3000:]}"


def stop(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


@functools.cache
def opened(storage: str):
    """One storage object per URL for the whole test session (each would hold its own connections)."""
    return open_storage(storage_url(storage, Path(".")))


def load(storage: str):
    return optuna.load_study(study_name=STUDY, storage=opened(storage))


def table_jobs(worker: Worker) -> list[int]:
    """The jobs the worker's summary.csv lists, each checked against its trial."""
    table = pd.read_csv(worker.sweep_dir / "summary.csv")
    assert list(table["trial"]) == list(table["job"]) and set(table["state"]) == {"complete"}, table
    return sorted(table["job"])


# ----- three workers, one study -----


def test_three_workers_share_one_study(tmp_path, storage):
    # a and b one trial at a time; c a batch of three, trained as one stack.
    short = ["trainer.max_epochs=1"]
    stacked = [*short, "hydra/launcher=stacked", "hydra.sweeper.n_jobs=3"]
    # c asks first: its batch is trials 0-2, one stack (a batch whose numbers another worker's
    # trials interleave trains as one stack per run of consecutive numbers: search.loop).
    workers = start_workers(tmp_path, storage, 9, {"a": short, "b": short, "c": stacked}, after={"a": "c", "b": "c"})
    try:
        held(tmp_path, workers)
        running = load(storage).get_trials(states=(TrialState.RUNNING,))
        pids = [w.process.pid for w in workers]
        # All three in the study at once, before any trains: a's and b's first trial, c's first batch.
        assert sorted(t.user_attrs[WORKER]["pid"] for t in running) == sorted([pids[0], pids[1], *[pids[2]] * 3])
        release(tmp_path)
        finish(workers)
    finally:
        stop(workers)

    trials = load(storage).trials
    ran, surplus = trials[:9], trials[9:]
    assert [t.state for t in ran] == [TrialState.COMPLETE] * 9
    # Two workers asking for the last place at one instant: the later trial is not run (search.loop).
    assert all(t.state == TrialState.FAIL and t.user_attrs[REASON].startswith("not run") for t in surplus)
    jobs = {w.name: w.jobs() for w in workers}
    run_by_any = sorted(job for run_by_one in jobs.values() for job in run_by_one)
    assert run_by_any == list(range(9)), jobs  # each trial run once, by one worker
    assert all(jobs.values()) and len(jobs["c"]) >= 3, jobs
    for worker in workers:
        assert table_jobs(worker) == jobs[worker.name]  # each worker's table: its own jobs
        for job in jobs[worker.name]:
            trial = json.loads((worker.sweep_dir / str(job) / TRIAL_FILE).read_text())
            assert (trial["trial"], trial["value"]) == (job, trials[job].value)
    assert jobs["c"][:3] == [0, 1, 2] and "3 jobs in 1 stack of 3" in workers[2].log.read_text()
    best = [json.loads((w.sweep_dir / BEST_FILE).read_text()) for w in workers]
    assert best[0] == best[1] == best[2], best  # every worker ends with the whole study's best trial
    for worker in workers:  # a password in the storage URL: *** in best_trial.json and the output
        assert PASSWORD not in (worker.sweep_dir / BEST_FILE).read_text() + worker.log.read_text()
    study = load(storage)
    assert (best[0]["trial"], best[0]["value"], best[0]["study"]) == (study.best_trial.number, study.best_value, STUDY)


# ----- a worker killed mid-trial -----


@pytest.mark.parametrize("storage", ["postgresql", pytest.param("journal", marks=pytest.mark.slow)], indirect=True)
def test_a_worker_killed_mid_trial_is_failed_and_the_others_finish(tmp_path, storage):
    # a: one endless trial (no early stopping), killed once it has trained an epoch; b, c: short trials.
    endless = ["trainer.max_epochs=100000", "regularization=[dropout]"]
    short = ["trainer.max_epochs=1"]
    workers = start_workers(tmp_path, storage, 6, {"a": endless, "b": short, "c": short})
    a, b, c = workers
    try:
        held(tmp_path, workers)
        release(tmp_path)

        def trial_of_a():
            trials = load(storage).get_trials(states=(TrialState.RUNNING,))
            mine = [t for t in trials if t.user_attrs.get(WORKER, {}).get("pid") == a.process.pid]
            return next((t for t in mine if HEARTBEAT in t.user_attrs and t.intermediate_values), None)

        killed = wait_for(trial_of_a, "worker a's trial training, with its heartbeat", workers)
        a.process.send_signal(signal.SIGKILL)
        assert a.process.wait(timeout=60) == -signal.SIGKILL
        finish([b, c])
    finally:
        stop(workers)

    trials = load(storage).trials
    lost = trials[killed.number]
    assert lost.state == TrialState.FAIL and lost.user_attrs[COUNTED] is False
    reason = lost.user_attrs[REASON]
    assert reason.startswith(f"lost: worker pid {a.process.pid} on host {socket.gethostname()} stopped (its process is")
    said = [w.name for w in (b, c) if f"trial {killed.number}: failed: {reason}" in w.log.read_text()]
    assert said, "neither b nor c said it failed a's trial"
    finished = [t.number for t in trials if t.state in FINISHED]
    assert len(finished) == 6  # the study still ends with n_trials finished trials: one took the lost one's place
    others = [t for t in trials if t.state not in FINISHED and t.number != killed.number]
    assert all(t.state == TrialState.FAIL and t.user_attrs[REASON].startswith("not run") for t in others)
    assert a.jobs() == [killed.number]
    assert sorted(b.jobs() + c.jobs()) == finished  # b and c ran every finished trial, each once
    for worker in (b, c):
        assert table_jobs(worker) == worker.jobs()
    best = [json.loads((w.sweep_dir / BEST_FILE).read_text()) for w in (b, c)]
    assert best[0] == best[1] and best[0]["trial"] == load(storage).best_trial.number


# ----- the storage URL: checked before any trial, one message naming the key -----


def without(monkeypatch, *modules: str) -> None:
    """As if ``modules`` were not installed (their import raises ImportError)."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize(
    ("storage", "words"),
    [
        (
            "postgres://u@db/optuna",
            "postgres://u@db/optuna: SQLAlchemy knows no database postgres; did you mean "
            "postgresql://? allowed: sqlite, postgresql, mysql, mariadb, oracle, mssql",
        ),
        (
            "postgresql+asyncpg://u@db/optuna",
            "asyncpg is an asyncio driver, and Optuna's storage is synchronous; "
            "name a synchronous one, e.g. postgresql+psycopg://",
        ),
        ("postgresql://u@db:port/optuna", "postgresql://u@db:port/optuna: not a database URL"),
        ("sqlite://", "sqlite://: a database in memory lives in one process and ends with it"),
        ("sqlite:///:memory:", "a database in memory lives in one process"),
        (
            "mysql://u:secret@db/optuna",
            "mysql://u:***@db/optuna: no mysql driver is installed; pip install mysqlclient or pip install pymysql",
        ),
        ("mysql+pymysql://u@db/optuna", "the mysql driver pymysql is not installed; pip install pymysql"),
        (
            "postgresql+psycopg2://u@db/optuna",
            "the postgresql driver psycopg2 is not installed; pip install psycopg2-binary",
        ),
    ],
)
def test_a_storage_url_that_cannot_work_is_one_message_naming_the_key(monkeypatch, storage, words):
    without(monkeypatch, "MySQLdb", "pymysql", "psycopg2")
    with pytest.raises(ConfigError) as error:
        storage_url(storage, Path("."))
    assert str(error.value).startswith("hydra.sweeper.storage=") and words in str(error.value)
    assert "secret" not in str(error.value)


def test_postgresql_without_a_driver_takes_the_installed_one(monkeypatch):
    assert database_url("postgresql://u@db/optuna").get_dialect().driver == "psycopg"
    # SQLAlchemy 2.0's default driver for postgresql:// is psycopg2; without it, psycopg serves.
    monkeypatch.setattr(sqlalchemy.dialects.postgresql.base, "dialect", sqlalchemy.dialects.postgresql.psycopg2.dialect)
    without(monkeypatch, "psycopg2")
    url = database_url("postgresql://u:pw@db:5433/optuna")
    assert url.render_as_string(hide_password=False) == "postgresql+psycopg://u:pw@db:5433/optuna"
    assert storage_url("postgresql://u@db/optuna", Path(".")) == "postgresql://u@db/optuna"  # named as given
    without(monkeypatch, "psycopg")
    with pytest.raises(ConfigError, match=r"no postgresql driver is installed; pip install 'psycopg\[binary\]' or"):
        database_url("postgresql://u@db/optuna")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens on it once closed


def test_a_server_that_cannot_be_reached_is_one_message():
    url = f"postgresql+psycopg://u:secret@127.0.0.1:{closed_port()}/optuna"
    with pytest.raises(ConfigError) as error:
        create_or_load(url, STUDY, None, None, "minimize")
    said = str(error.value)
    assert said.startswith(f"hydra.sweeper.storage={url.replace('secret', '***')}: cannot open the database: ")
    assert "Connection refused" in said and "secret" not in said and "\n" not in said


def test_a_database_the_server_does_not_have_is_one_message(postgresql):
    url = postgresql.url("no_such_database")
    with pytest.raises(ConfigError, match=r"cannot open the database: .*database \"no_such_database\" does not exist"):
        open_storage(url)


def test_a_sweep_whose_server_cannot_be_reached_says_so_in_one_line(tmp_path):
    url = f"postgresql+psycopg://u:secret@127.0.0.1:{closed_port()}/optuna"
    args = ["-m", "hydra/sweeper=optuna", f"hydra.sweeper.storage={url}", "optimizer.lr=interval(0.01,0.1)"]
    out = train(*args, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    [line] = out.stderr.strip().splitlines()
    shown = url.replace("secret", "***")
    assert line.startswith(f"error: hydra.sweeper.storage={shown}: cannot open the database: connection failed: ")
    assert "Connection refused" in line and "Traceback" not in out.stdout + out.stderr


# ----- processes that start at once on an empty database -----

JOIN = """
import sys, time
from pathlib import Path
from trainlab.search.settings import make_pruner, make_sampler
from trainlab.search.study import create_or_load

url, go = sys.argv[1], Path(sys.argv[2])
Path(sys.argv[3]).touch()  # imported: ready
while not go.exists():
    time.sleep(0.01)
study = create_or_load(url, "joined", make_sampler("random"), make_pruner("none"), "minimize")
study.tell(study.ask(), 1.0)
"""


def test_processes_that_start_at_once_on_an_empty_database_join_one_study(tmp_path, postgresql):
    # Each creates Optuna's tables and the study, or finds them (PostgreSQL refuses a CREATE TABLE
    # racing another: study.create_or_load tries again).
    url, go = postgresql.database("joined_at_once"), tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(3)]
    joining = [
        subprocess.Popen(
            [sys.executable, "-c", JOIN, url, str(go), str(r)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for r in ready
    ]
    try:
        wait_for(lambda: all(r.exists() for r in ready), "the three processes' imports")
        go.touch()  # all three at once
        said = [process.communicate(timeout=120) for process in joining]
    finally:
        for process in joining:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in joining] == [0, 0, 0], [err for _, err in said]
    assert [s.study_name for s in optuna.get_all_study_summaries(opened(url))] == ["joined"]
    trials = optuna.load_study(study_name="joined", storage=opened(url)).trials
    assert [(t.number, t.state) for t in trials] == [(n, TrialState.COMPLETE) for n in range(3)]  # one each
