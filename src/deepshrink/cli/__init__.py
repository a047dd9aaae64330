"""The ``deepshrink`` command line: a thin layer that parses, calls the library and prints.

Each subcommand lives in a module of this package and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed namespace, returns an exit code).
Errors deepshrink raises on purpose (:class:`~deepshrink.errors.DeepshrinkError`), bad
arguments and missing files become one line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deepshrink.errors import DeepshrinkError

# Modules that contribute subcommands, in the order `deepshrink --help` lists them.
COMMAND_MODULES = (
    "deepshrink.cli.models",
    "deepshrink.cli.data",
    "deepshrink.cli.train",
    "deepshrink.cli.evaluate",
    "deepshrink.cli.predict",
    "deepshrink.cli.export",
    "deepshrink.cli.benchmark",
    "deepshrink.cli.thresholds",
    "deepshrink.cli.demo",
)


class UsageError(DeepshrinkError):
    """A command-line argument is wrong."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``deepshrink train: error: ...``), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every subcommand registered."""
    from deepshrink import __version__

    parser = OneLineParser(
        prog="deepshrink",
        description="Deep Residual Shrinkage Networks for noisy signals: models, data, training and the noise study.",
    )
    parser.add_argument("--version", action="version", version=f"deepshrink {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepshrink`` console script."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except DeepshrinkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
        print(f"error: {err.strerror or err}: {err.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
