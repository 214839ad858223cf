"""The `durable` command line (the only synchronous edge of the package)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="durable", description="Durable execution for Python.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `durable` command."""
    args = build_parser().parse_args(argv)
    if args.version:
        from durable import __version__

        print(__version__)
        return 0
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
