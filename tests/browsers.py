"""Headless Chromium for the tests that look at a page as a person does (the course page,
TensorBoard's dashboards): its path, or the test skipped with the reason (failed under CI=true,
where `make test` installs Debian's chromium)."""

import os
import shutil

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium_or_skip() -> str:
    """The installed Chromium's path; else the test is skipped, or fails in CI."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no Chromium in CI: `make test` installs Debian's chromium package")
        pytest.skip("needs Chromium (Debian: apt-get install chromium)")
    return found
