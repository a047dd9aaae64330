"""One vocabulary of flags across commands, and the old spellings kept for a release.

Every command says ``-o/--output`` for where it writes, ``--snr`` for SNRs (one, a range or a
list), ``--threads`` for torch's CPU threads and ``--part`` for which part of a dataset (test,
train, ...); ``--split`` is always how a dataset is split (recording, window, ...). An old
spelling still works, hidden from ``--help``, and says once on stderr what to write instead.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_old_spelling", "REMOVED_IN"]

REMOVED_IN = "0.3"


class _OldSpelling(argparse.Action):
    """Stores what the new flag would store, after one line on stderr."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        print(f"deepshrink {parser.prog.split()[-1]}: {option_string} is now {self.new} "
              f"(the old spelling goes in {REMOVED_IN})", file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, values)


def add_old_spelling(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Accept ``old`` (hidden) as ``new``, an option already on ``parser``, with a deprecation line."""
    action = next(a for a in parser._actions if new in a.option_strings)
    kwargs: dict[str, Any] = {"type": action.type, "choices": action.choices, "metavar": action.metavar}
    if action.nargs is not None:
        kwargs["nargs"] = action.nargs
    parser.add_argument(old, dest=action.dest, action=_OldSpelling, new=new, **kwargs)
