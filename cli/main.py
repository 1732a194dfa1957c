"""The ``moccasin`` command (minimal: only ``trace`` so far; the full front end merges in later).

Each subcommand module exposes ``add_parser(subparsers)`` and ``run(args) -> int``; a
:class:`~moccasin.errors.MoccasinError` becomes one line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import sys

from moccasin.errors import MoccasinError
from moccasin_cli import trace_cmd

SUBCOMMANDS = {"trace": trace_cmd}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="moccasin", description="Rematerialization planner")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS.values():
        module.add_parser(subparsers)
    args = parser.parse_args(argv)
    try:
        return SUBCOMMANDS[args.command].run(args)
    except MoccasinError as e:
        print(f"moccasin {args.command}: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
