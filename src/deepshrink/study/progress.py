"""A study's progress on the console: a live bar per worker on a terminal, one line per run otherwise.

A cohort of stacked runs can train for many minutes before its first run finishes, so a
terminal shows, for each worker, the epochs trained out of all the epochs its share of the study
needs, with tqdm's rate and time left; the worker's lines (one per finished run) print above the
bars. Without a terminal (a log file, CI) nothing moves: one line per finished run, and one when
a cohort starts, so a log says what is under way.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["StudyMeter"]

BAR_FORMAT = "{desc} {percentage:3.0f}% {n_fmt}/{total_fmt} epochs [{elapsed}<{remaining}, {rate_fmt}]"


class StudyMeter:
    """The progress of one worker's share of a study.

    Args:
        total: training epochs of the share (each cohort counts its epochs once, however many runs
            it stacks; a run without epochs, such as MiniRocket, counts 1).
        tag: the worker's prefix, e.g. ``[shard 0/2] `` ('' for a single process).
        position: the bar's line among the workers' bars (the shard index).
        say: where lines go without a live bar.
        live: draw a bar (default: when stdout is a terminal).
        stream: the bar's stream (default: stdout).
    """

    def __init__(self, total: int, *, tag: str = "", position: int = 0, say: Callable[[str], None] = print,
                 live: bool | None = None, stream: TextIO | None = None) -> None:  # fmt: skip
        self.stream = stream or sys.stdout
        self.live = _is_terminal(self.stream) if live is None else live
        self.tag = tag
        self._say = say
        self._cohort_epochs = 0
        self.bar: Any = None
        if self.live and total > 0:
            from tqdm import tqdm  # lazy: a study without a terminal never needs it

            # the size once, with a fallback: tqdm draws nothing on a terminal that reports 0 x 0 (a bare pty)
            size = shutil.get_terminal_size(fallback=(100, 24))
            self.bar = tqdm(total=total, position=position, desc=tag.strip() or "study", bar_format=BAR_FORMAT,
                            file=self.stream, ncols=size.columns or 100, nrows=size.lines or 24, leave=True,
                            mininterval=0.5)  # fmt: skip

    def say(self, message: str) -> None:
        """A line above the bars (``tqdm.write``), or to ``say`` without a bar."""
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            self._say(message)

    def start(self, label: str) -> None:
        """A cohort (or a run) starts: named on the bar, or in one line without one."""
        self._cohort_epochs = 0
        if self.bar is not None:
            self.bar.set_description_str(f"{self.tag}{label}", refresh=True)
        else:
            self._say(f"{self.tag}{label}: started")

    def epoch(self, done: int) -> None:
        """The current cohort has trained ``done`` epochs (its trainer's count, resumed ones included)."""
        if self.bar is not None and done > self._cohort_epochs:
            self.bar.update(done - self._cohort_epochs)
        self._cohort_epochs = max(self._cohort_epochs, done)

    def finish(self, epochs: int) -> None:
        """The current cohort is done: its ``epochs`` count in full (early stopping, resumed runs)."""
        self.epoch(epochs)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
