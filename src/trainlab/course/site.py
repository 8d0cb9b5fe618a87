"""The static page: index.html in the output folder, opening from disk with no server.
Images are PNG (or SVG) files beside it, referred to by relative path; every text is html-escaped."""

from __future__ import annotations

import html
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from trainlab.course.common import Section
from trainlab.files.atomic import write_text

CSS = """
body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0; color: #222; }
main { max-width: 980px; margin: 0 auto; padding: 1em; }
img { width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
.claim { font-size: 1.1em; font-style: italic; }
"""


def machine() -> str:
    """The CPU model (from /proc/cpuinfo where there is one) and the number of cores."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def render_section(section: Section) -> str:
    e = html.escape
    parts = [
        f'<section id="{e(section.key)}">',
        f"<h2>{e(section.title)}</h2>",
        f'<p class="claim">{e(section.claim)}</p>',
    ]
    parts += [f'<img src="{e(src)}" alt="{e(alt)}">' for src, alt in section.images]
    if section.table:
        head, *body = section.table
        parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body]
        parts.append("</table>")
    parts += [f"<p>{e(note)}</p>" for note in section.notes]
    if section.commands:
        parts.append("<p>Reproduce:</p><pre>" + e("\n".join(section.commands)) + "</pre>")
    parts.append("</section>")
    return "\n".join(parts)


def write(out: Path, sections: Sequence[Section], seconds: float, command: str) -> Path:
    """index.html in ``out``: one section per claim in order, then the time and the machine."""
    e = html.escape
    body = "\n".join(render_section(s) for s in sections)
    toc = "".join(f'<li><a href="#{e(s.key)}">{e(s.title)}</a></li>' for s in sections)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The course, reproduced</title><style>{CSS}</style></head>
<body><main>
<h1>The course, reproduced</h1>
<p>Each claim of the lecture, measured by trainlab on this machine. Every number on this page comes from this run.
The course adds <code>pictures.enabled=false logger=none</code> (and no progress bar) to each command, to save
time and files.</p>
<ul>{toc}</ul>
{body}
<footer><hr><p>Made by <code>{e(command)}</code> in {seconds:.1f} s on {e(machine())}.</p></footer>
</main>{LOAD_CHECK}</body></html>
"""
    return write_text(out / "index.html", page)


# Once the page has loaded, <body data-images="loaded/total">: what a browser check reads
# (tests/course/test_course_browser.py); nothing a reader sees.
LOAD_CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = loaded + "/" + images.length;
});
</script>"""
