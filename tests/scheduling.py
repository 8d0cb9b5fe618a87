"""How the default run's two workers share the tests (tests/conftest.py's xdist scheduler)."""

# Files whose tests run in one worker together: the course's (one course built for them all) and
# the runs on several processes (each file starts several at once: side by side they would crowd).
TOGETHER = {"tests/course/": "course", "tests/test_ddp.py": "ddp", "tests/test_ddp_faults.py": "ddp"}


def scope_of(nodeid: str) -> str:
    """The unit a test goes to a worker with: its file, or its ``TOGETHER`` name."""
    path = nodeid.split("::")[0]
    return next((name for prefix, name in TOGETHER.items() if path.startswith(prefix)), path)
