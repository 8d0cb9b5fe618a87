"""trainlab as pip installs it: the sdist and wheel that ``python -m build`` makes of this checkout,
and the wheel installed into a fresh virtual environment, used from a directory outside the checkout.

The build runs in a copy of the working tree (the checkout is never written: no build/, dist/ or
egg-info appear in it) with ``--no-isolation``: .venv's setuptools builds it, so no package index is
asked. The wheel is built from the sdist, as ``pip install <sdist>`` would.

The fresh environment is ``python -m venv --without-pip``, the wheel installed into it by .venv's pip
(``pip --python``, with no index and no dependencies); only then does a ``.pth`` file add .venv's
site-packages *behind* its own, so torch, Lightning and the rest are found without a download while
trainlab and its Hydra plugins come from the wheel alone (a ``.pth`` path line does not run .venv's
own ``.pth`` files, so the checkout's editable install of trainlab stays out of sight).
"""

from __future__ import annotations

import configparser
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pandas as pd
import pytest
from overrides import QUICK
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
NAME = "trainlab-0.1.0"
SCRIPTS = {
    "trainlab-train": "trainlab.cli:train",
    "trainlab-predict": "trainlab.cli:predict",
    "trainlab-pictures": "trainlab.cli:pictures",
    "trainlab-course": "trainlab.course.__main__:main",
}
# pip install "trainlab[scale]": the launchers, Optuna, the PostgreSQL driver and crc32c's C checksums
# for TensorBoard's records (README, "Install").
SCALE = {"hydra-joblib-launcher", "hydra-submitit-launcher", "optuna", "psycopg", "crc32c"}
# The sdist's files beside src/: what builds the wheel, and setuptools' own.
SDIST_TOP = {"PKG-INFO", "README.md", "pyproject.toml", "setup.cfg", "MANIFEST.in"}
STUDENTS = "lectures,hours\n0,0\n2,3\n10,20\n25,40\n"


def _leave_out(directory: str, names: list[str]) -> set[str]:
    """What a copy of the checkout leaves out: what git ignores (a build's own outputs, .venv, the
    caches, the runs); tests/ is copied, so that the sdist's leaving it out is tested."""
    out = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
    if Path(directory) == ROOT:
        out |= {n for n in names if n in {".git", ".venv", "build", "dist", "outputs"} or n.endswith("_cache")}
    return out


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(wheel, sdist, the copied checkout they were built from)."""
    tree = tmp_path_factory.mktemp("checkout") / "trainlab"
    shutil.copytree(ROOT, tree, symlinks=True, ignore=_leave_out)
    run = tree / "outputs" / "2026-01-01" / "12-00-00"  # a checkout's run, which ships nowhere
    run.mkdir(parents=True)
    (run / "summary.json").write_text('{"status": "finished"}\n')
    dist = tree.parent / "dist"
    done = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, tree], cwd=tree.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in dist.iterdir()) == [f"{NAME}-py3-none-any.whl", f"{NAME}.tar.gz"]
    return dist / f"{NAME}-py3-none-any.whl", dist / f"{NAME}.tar.gz", tree


def _package_files(tree: Path) -> set[str]:
    """Every file of the two top-level packages under src/, relative to src/."""
    src = tree / "src"
    return {
        p.relative_to(src).as_posix()
        for top in ("trainlab", "hydra_plugins")
        for p in (src / top).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_wheel_and_the_sdist_hold_the_package_its_configs_and_plugins_and_nothing_else(built):
    wheel, sdist, tree = built
    shipped = _package_files(tree)
    # What users rely on by name: the configs Hydra composes (the course's among them), both Hydra
    # plugins in Hydra's namespace package (an __init__.py there would hide every other plugin), the types.
    for name in (
        "trainlab/conf/train.yaml",
        "trainlab/conf/experiment/course/will_i_pass.yaml",
        "trainlab/conf/hydra/launcher/slurm.yaml",
        "trainlab/conf/hydra/job_logging/trainlab.yaml",
        "hydra_plugins/trainlab_launcher/stacked_launcher.py",
        "hydra_plugins/trainlab_launcher/grid_sweeper.py",
        "hydra_plugins/trainlab_optuna_sweeper/optuna_sweeper.py",
        "trainlab/py.typed",
    ):
        assert name in shipped
    assert "hydra_plugins/__init__.py" not in shipped
    assert sum(n.endswith(".yaml") for n in shipped) == len(list((tree / "src/trainlab/conf").rglob("*.yaml")))

    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(f"{NAME}.dist-info/METADATA").decode())
        entry_points = archive.read(f"{NAME}.dist-info/entry_points.txt").decode()
    info = {n for n in in_wheel if n.startswith(f"{NAME}.dist-info/")}
    assert in_wheel - info == shipped  # every file under src/'s packages, and nothing else
    assert {f"{NAME}.dist-info/{n}" for n in ("METADATA", "WHEEL", "RECORD", "entry_points.txt")} <= info

    with tarfile.open(sdist) as archive:
        in_sdist = {m.name.removeprefix(f"{NAME}/") for m in archive.getmembers() if m.isfile()}
    assert not [n for n in in_sdist | in_wheel if n.split("/")[0] in ("tests", "outputs") or "__pycache__" in n]
    assert {n for n in in_sdist if "/" not in n} == SDIST_TOP
    assert {n for n in in_sdist if n.startswith("src/") and ".egg-info/" not in n} == {f"src/{n}" for n in shipped}

    scripts = configparser.ConfigParser()
    scripts.read_string(entry_points)
    assert dict(scripts["console_scripts"]) == SCRIPTS
    scale = [Requirement(r) for r in metadata.get_all("Requires-Dist") if "extra" in r and "scale" in r]
    assert {r.name for r in scale} == SCALE
    assert all(str(r.marker) == 'extra == "scale"' for r in scale)
    assert [r.extras for r in scale if r.name == "psycopg"] == [{"binary"}]  # the driver's own libpq, no compiler


def _clean_env(venv: Path) -> dict[str, str]:
    """This process's environment without what would reach into the checkout or a package index:
    PYTHONPATH and the like, pip's settings and config files, trainlab's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "TRAINLAB_", "VIRTUAL_ENV"))}
    bin_dir = venv / "bin"
    return {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "PIP_CONFIG_FILE": os.devnull,
        "COLUMNS": "120",
    }


@dataclass(frozen=True)
class Fresh:
    """A fresh virtual environment with the wheel installed."""

    venv: Path
    site: Path  # its site-packages
    env: dict[str, str]  # the environment variables to run it with
    wheels: Path  # the folder holding the wheel

    def run(self, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
        """``args[0]``, one of the environment's commands (python, trainlab-train, ...), in ``cwd``."""
        return _run([self.venv / "bin" / args[0], *args[1:]], cwd=cwd, env=self.env)


@pytest.fixture(scope="module")
def fresh(built, tmp_path_factory) -> Fresh:
    wheel, _sdist, _tree = built
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    env = _clean_env(venv)
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent, env=env)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel]
    done = _run(pip, cwd=venv.parent, env=env)
    assert done.returncode == 0 and "Successfully installed trainlab-0.1.0" in done.stdout, done.stdout + done.stderr
    asked = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv.parent, env=env)
    site = Path(asked.stdout.strip())
    assert site.is_relative_to(venv), asked.stdout + asked.stderr
    ours = sysconfig.get_paths()
    lines = "".join(f"{p}\n" for p in dict.fromkeys([ours["purelib"], ours["platlib"]]))
    (site / "checkout-venv-packages.pth").write_text(lines)
    return Fresh(venv, site, env, wheel.parent)


def test_the_installed_wheel_answers_from_its_own_files_outside_the_checkout(fresh, tmp_path):
    where = fresh.run(
        "python",
        "-c",
        "import sys, trainlab, hydra_plugins.trainlab_launcher as a, hydra_plugins.trainlab_optuna_sweeper as b\n"
        "print(trainlab.__file__, a.__file__, b.__file__, sep='\\n')\n"
        f"print([p for p in sys.path if p.rstrip('/') in {{{str(ROOT)!r}, {str(ROOT / 'src')!r}}}])",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.splitlines() == [
        f"{fresh.site}/trainlab/__init__.py",
        f"{fresh.site}/hydra_plugins/trainlab_launcher/__init__.py",
        f"{fresh.site}/hydra_plugins/trainlab_optuna_sweeper/__init__.py",
        "[]",  # neither the checkout nor its src/ (the editable install's path) is on sys.path
    ]

    # models/ is torch alone for research code: neither Lightning nor Hydra comes with it.
    models = fresh.run(
        "python",
        "-c",
        "from trainlab.models import MLP; import sys\n"
        "assert 'lightning' not in sys.modules and 'hydra' not in sys.modules\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'hydra', 'omegaconf', 'torch'}))\n"
        "print(type(MLP(2, [4], 1)).__module__)",
        cwd=tmp_path,
    )
    assert models.returncode == 0, models.stderr
    assert models.stdout.splitlines() == ["['torch']", "trainlab.models.mlp"]

    # --help, from the installed configs, says what the checkout's trainlab-train says, naming
    # the commands as pip installed them.
    helped = fresh.run("trainlab-train", "--help", cwd=tmp_path)
    script = Path(sys.executable).parent / "trainlab-train"
    checkout = _run([script, "--help"], cwd=tmp_path, env={**os.environ, "COLUMNS": "120"})
    assert helped.returncode == 0 and checkout.returncode == 0, helped.stderr + checkout.stderr
    assert helped.stdout == checkout.stdout and helped.stdout.startswith("usage: trainlab-train ")
    assert "python train.py" not in helped.stdout and "trainlab-predict run=<run dir>" in helped.stdout
    assert "course/will_i_pass" in helped.stdout

    # pip install "trainlab[scale]", read from the installed wheel's metadata: each requirement of
    # the extra is found (with no index, a missing one would fail), and each imports.
    scale = fresh.run(
        "python", "-m", "pip", "install", "--no-index", "--find-links", fresh.wheels, "trainlab[scale]", cwd=tmp_path
    )
    assert scale.returncode == 0, scale.stdout + scale.stderr
    satisfied = [line for line in scale.stdout.splitlines() if line.startswith("Requirement already satisfied: ")]
    assert satisfied[0] == f"Requirement already satisfied: trainlab[scale] in {fresh.site} (0.1.0)"
    assert {Requirement(line.split()[3]).name for line in satisfied if "(from trainlab[scale])" in line} >= SCALE
    imported = fresh.run(
        "python",
        "-c",
        "import hydra_plugins.hydra_joblib_launcher, hydra_plugins.hydra_submitit_launcher, optuna, psycopg, crc32c\n"
        "print(psycopg.pq.__impl__)",
        cwd=tmp_path,
    )
    assert imported.returncode == 0 and imported.stdout == "binary\n", imported.stderr


# trainlab-course runs every claim (about 40 s here) and has no option that picks one: the installed
# console script itself is run, with the course's claims narrowed to "will I pass this class?" (one
# trained run of experiment=course/will_i_pass, a config that ships in the wheel).
ONE_CLAIM = """
import runpy, sys
import trainlab.course
from trainlab.course import pass_the_class
trainlab.course.CLAIMS = (pass_the_class.section,)
sys.argv = [sys.argv[1], "--out", "course"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
def test_the_installed_wheel_trains_sweeps_predicts_and_reproduces_a_course_claim(fresh, tmp_path):
    """From a directory outside the checkout, with the installed console scripts alone."""
    trained = fresh.run("trainlab-train", *QUICK, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run_dir,) = [p.parent for p in tmp_path.glob("outputs/*/*/summary.json")]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["epochs"], Path(summary["run_dir"])) == ("finished", 2, run_dir)
    assert f"run directory  {run_dir}" in trained.stdout
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "decision_boundary.png").is_file()

    # Four jobs through the stacked launcher (the wheel's Hydra plugin): one stack of four.
    swept = fresh.run(
        "trainlab-train", "-m", "hydra/launcher=stacked", "seed=0,1,2,3", *QUICK, "pictures.enabled=false", cwd=tmp_path
    )
    assert swept.returncode == 0, swept.stderr[-3000:]
    assert "stacked launcher: 4 jobs in 1 stack of 4" in swept.stdout + swept.stderr
    (sweep,) = tmp_path.glob("outputs/multirun/*/*")
    for job in range(4):
        summary = json.loads((sweep / str(job) / "summary.json").read_text())
        assert (summary["status"], summary["epochs"], summary["stack"]) == ("finished", 2, {"size": 4})
    assert len((sweep / "summary.csv").read_text().splitlines()) == 1 + 4

    # trainlab-predict on the run and on a stack's member: what the checkout's Predictor predicts.
    from trainlab.predict import Predictor

    (tmp_path / "students.csv").write_text(STUDENTS)
    for run, output in ((run_dir, "run.csv"), (sweep / "3", "job3.csv")):
        predicted = fresh.run(
            "trainlab-predict", f"run={run}", "input=students.csv", f"output={output}", "proba=true", cwd=tmp_path
        )
        assert predicted.returncode == 0, predicted.stderr
        assert predicted.stdout.startswith(f"wrote 4 predictions to {output} (id, passed, proba_fail, proba_pass)")
        expected = Predictor.from_run(run).predict(pd.read_csv(io.StringIO(STUDENTS)), proba=True)
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / output), pd.read_csv(io.StringIO(expected.to_csv(index=False)))
        )

    course = fresh.run("python", "-c", ONE_CLAIM, fresh.venv / "bin" / "trainlab-course", cwd=tmp_path)
    assert course.returncode == 0, course.stderr[-3000:]
    page = tmp_path / "course" / "index.html"
    assert re.fullmatch(rf"1 claims in \d+\.\d s: {re.escape(str(page))}\n", course.stdout), course.stdout
    html = page.read_text()
    assert html.count("<section ") == 1 and '<section id="will_i_pass">' in html and 'src="will_i_pass.png"' in html
    assert (tmp_path / "course" / "will_i_pass.png").stat().st_size > 0
    (course_run,) = [p.parent for p in (tmp_path / "course" / "runs").rglob("summary.json")]
    test_loss = json.loads((course_run / "summary.json").read_text())["metrics"]["test/loss"]
    assert f"<td>{test_loss:.4f}</td>" in html  # the page's numbers are that run's
