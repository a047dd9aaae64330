"""The ``deepshrink`` command line: a thin layer that parses, calls the library and prints.

Each subcommand lives in a module of this package and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed namespace, returns an exit code).
Errors deepshrink raises on purpose (:class:`~deepshrink.errors.DeepshrinkError`), bad
arguments and every failure of the operating system (a missing file, a full disk, no
permission: any ``OSError``) become one line on stderr and exit status 2, with no traceback;
the library writes files atomically, so nothing is left half-written as if complete. A closed
output pipe (``deepshrink models | head -1``) ends the command quietly, as Unix tools do
(status 141, 128 + SIGPIPE). Exhausted memory (CPU or GPU) is one line and status 2 too.
Warnings print as one ``warning: ...`` line each.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence

from deepshrink._version import __version__
from deepshrink.errors import DeepshrinkError

# Modules that contribute subcommands, in the order `deepshrink --help` lists them.
COMMAND_MODULES = (
    "deepshrink.cli.models",
    "deepshrink.cli.data",
    "deepshrink.cli.train",
    "deepshrink.cli.evaluate",
    "deepshrink.cli.predict",
    "deepshrink.cli.export",
    "deepshrink.cli.study",
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

    parser = OneLineParser(
        prog="deepshrink",
        description="Deep Residual Shrinkage Networks for noisy signals: models, data, training and the noise study.",
    )
    parser.add_argument("--version", action="version", version=f"deepshrink {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool killed by a closed pipe returns
_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "not enough memory")
_WRITE_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _one_line_path(name: str | bytes | os.PathLike) -> str:
    """A path as text on one line: a newline or other control character in it is escaped (``\\n``)."""
    text = os.fsdecode(name)
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def os_error_line(err: OSError) -> str:
    """One line for an OSError: the path(s) it names, then what failed."""
    what = " ".join((err.strerror or str(err) or type(err).__name__).split())
    if err.filename is not None and err.filename2 is not None:
        return f"{_one_line_path(err.filename)} -> {_one_line_path(err.filename2)}: {what}"
    if err.filename is not None:
        return f"{_one_line_path(err.filename)}: {what}"
    if err.errno in _WRITE_ERRNOS:  # no file named: the output (stdout redirected to a full disk)
        return f"cannot write the output: {what}"
    return what


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # type: ignore[no-untyped-def]
    first = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    return f"warning: {first}\n"


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Print each warning as one ``warning: ...`` line (no source line, no file path)."""
    original = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        yield
    finally:
        warnings.formatwarning = original


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepshrink`` console script."""
    # A log line that cannot be written (a full disk under train.log) is dropped instead of
    # printing logging's own traceback; the write that matters (a checkpoint) reports the error.
    logging.raiseExceptions = False
    try:
        with _one_line_warnings():
            parser = build_parser()
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return 2
            code = int(args.func(args) or 0)
            try:
                sys.stdout.flush()  # a closed pipe (or a full disk under a redirect) shows here, not at exit
            except OSError as err:
                if err.filename is None and err.errno != errno.EPIPE:
                    err.filename = "<stdout>"
                raise
            return code
    except DeepshrinkError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as err:
        if err.errno == errno.EPIPE:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        if err.filename == "<stdout>":
            _silence_stdout()  # the interpreter's final flush would fail again
        return 2
    except MemoryError:
        print("error: out of memory (try a smaller --batch-size, or fewer / shorter signals)", file=sys.stderr)
        return 2
    except RuntimeError as err:  # torch's allocators report exhausted memory as RuntimeErrors
        text = str(err)
        if not any(marker in text for marker in _OUT_OF_MEMORY):
            raise
        first = next((line.strip() for line in text.splitlines() if any(m in line for m in _OUT_OF_MEMORY)), text)
        print(f"error: out of memory: {first[:200]} (try a smaller --batch-size)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
