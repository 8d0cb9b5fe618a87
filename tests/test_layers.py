"""The layers of ARCHITECTURE.md hold (import-linter's contracts in pyproject.toml), and a
function-local import against their order is caught as any other (start-up speed never costs
the structure)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    env = {"PYTHONPATH": str(pythonpath)} if pythonpath else {}
    args = [sys.executable, "-c", code, "--no-cache"]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**_base_env(), **env}, timeout=300)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_the_contracts_hold():
    out = lint_imports()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 4 kept, 0 broken." in out.stdout


def test_a_function_local_import_against_the_order_breaks_the_layers_naming_both_modules(tmp_path):
    copy = tmp_path / "src" / "trainlab"
    shutil.copytree(ROOT / "src" / "trainlab", copy, ignore=shutil.ignore_patterns("__pycache__"))
    atomic = copy / "files" / "atomic.py"
    atomic.write_text(atomic.read_text() + "\n\ndef _wrong() -> None:\n    from trainlab.lifecycle.fit import fit\n")
    out = lint_imports(pythonpath=tmp_path / "src")
    assert out.returncode != 0
    assert "trainlab.files is not allowed to import trainlab.lifecycle" in out.stdout
    assert "trainlab.files.atomic -> trainlab.lifecycle.fit" in out.stdout
