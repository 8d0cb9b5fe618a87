"""The course page in a real browser: headless Chromium loads index.html from disk with every
image, and takes a screenshot at a desktop and a phone width. Skipped where no Chromium is
installed, except in CI (`make test` installs Debian's chromium there)."""

import re
import shutil
import struct
import subprocess

import pytest
from browsers import chromium_or_skip

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def browse(chromium: str, *args: str) -> subprocess.CompletedProcess:
    # --no-sandbox: root in a container; the virtual time budget lets the load event run before the DOM is read.
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]
    return subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120)


def test_chromium_loads_the_page_with_every_image(course, chromium):
    page, sections = course
    dom = browse(chromium, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    images = sum(len(s.images) for s in sections.values())
    assert images >= len(sections) - 1  # every claim but none has a picture
    assert f'data-images="{images}/{images}"' in dom.stdout
    for key in sections:
        assert re.search(rf'<section id="{key}">', dom.stdout)


@pytest.mark.parametrize("name", list(WIDTHS))
def test_chromium_screenshots_the_page_at_desktop_and_phone_width(course, chromium, tmp_path, name):
    page, _ = course
    shot = tmp_path / f"{name}.png"
    out = browse(chromium, f"--window-size={WIDTHS[name]},3000", f"--screenshot={shot}", page.as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (WIDTHS[name], 3000)
    shutil.copy(shot, page.parent / f"screenshot-{name}.png")  # beside the page, to look at
