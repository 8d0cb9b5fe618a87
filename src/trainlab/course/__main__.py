"""python -m trainlab.course [--out DIR]: run the course's experiments, write DIR/index.html."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trainlab.course import build


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainlab.course", description=__doc__)
    parser.add_argument("--out", default="outputs/course", help="the output folder (default: outputs/course)")
    args = parser.parse_args(argv)
    command = f"python -m trainlab.course --out {args.out}"
    page, sections, seconds = build(args.out, command)
    print(f"{len(sections)} claims in {seconds:.1f} s: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
