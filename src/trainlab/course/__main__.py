"""python -m trainlab.course [--out DIR] [--only CLAIM ...]: run the course's experiments (or the
claims named), write DIR/index.html."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trainlab.course import CLAIMS, build, chosen_claims, claim_name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainlab.course", description=__doc__)
    parser.add_argument("--out", default="outputs/course", help="the output folder (default: outputs/course)")
    names = ", ".join(claim_name(claim) for claim in CLAIMS)
    parser.add_argument("--only", nargs="+", metavar="CLAIM", help=f"run only these claims, of: {names}")
    args = parser.parse_args(argv)
    try:
        chosen_claims(args.only)
    except ValueError as error:
        parser.error(str(error))  # one line and exit 2, before any work
    only = f" --only {' '.join(args.only)}" if args.only else ""
    command = f"python -m trainlab.course --out {args.out}{only}"
    page, sections, seconds = build(args.out, command, args.only)
    print(f"{len(sections)} claim{'' if len(sections) == 1 else 's'} in {seconds:.1f} s: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
