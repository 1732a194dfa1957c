"""Entry point: parses the subcommand, runs it, and turns errors into one line and an exit code.

Exit codes: 0 a schedule was found (or the command succeeded), 1 bad input or usage, 2 no
schedule exists under the budget, 3 the time limit ran out before any schedule.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from moccasin.errors import MoccasinError

#: Subcommand modules, in the order ``--help`` lists them; each has add_parser() and run().
COMMANDS = ("plan", "compare", "sweep", "plot", "validate", "trace")

EPILOG = """exit codes: 0 success, 1 bad input or usage, 2 no schedule exists under the budget,
3 the time limit ran out before any schedule was found.
Ctrl-C during a solve stops it and keeps the best schedule found so far (exit 0; 3 if none).
Budgets: a fraction of the baseline peak (0.8 or 80%), an amount in the graph's units
(123456789), or bytes with a unit (512MiB, 1.5GB)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 1 (not argparse's 2)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(1, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="moccasin",
        description="Plan the cheapest recomputation schedule of a compute graph under a memory budget.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from moccasin import __version__

    parser.add_argument("--version", action="version", version=f"moccasin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"moccasin_cli.{name}_cmd")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="moccasin: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except MoccasinError as e:
        print(f"moccasin: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("moccasin: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("MOCCASIN_DEBUG"):
            raise
        print(f"moccasin: internal error: {type(e).__name__}: {e} (set MOCCASIN_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
