"""The course built once for every test of tests/course/: `python -m trainlab.course --out <tmp>`."""

import pytest

from trainlab.course import build


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """(page, {section key: Section}) of the whole command, run once."""
    out = tmp_path_factory.mktemp("course")
    page, sections, _seconds = build(out, "python -m trainlab.course")
    return page, {s.key: s for s in sections}
