"""Progress of long commands (``report``, ``verify``, ``persona``) on stderr.

On a terminal a tqdm bar; otherwise (a log file, a pipe, CI) plain lines, at most one every
:data:`INTERVAL_S` seconds (``PREFDYN_PROGRESS_INTERVAL`` overrides it; ``0``: every update)
plus one when the task ends, each saying how far it is, how long it has taken and, when the total
is known, the mean rate and the time left at that rate::

    prefdyn verify: update-rate: 40/100 examples (12 s, 3.33/s, ETA 18 s)

stdout is left alone (it may carry ``--json``). ``mode`` ``"off"`` prints nothing.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

#: Seconds between two plain progress lines of one task.
INTERVAL_S = 10.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("PREFDYN_PROGRESS_INTERVAL", INTERVAL_S)))
    except ValueError:
        return INTERVAL_S


def auto_mode(stream: TextIO | None = None) -> str:
    """``"bar"`` when ``stream`` (default stderr) is a terminal, else ``"lines"``."""
    stream = stream or sys.stderr
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):
        return "lines"


class Progress:
    """One task of ``total`` units (``None``: unknown) named ``label`` (see the module
    docstring); ``mode`` ``"bar"``, ``"lines"``, ``"off"`` or ``None`` (:func:`auto_mode`)."""

    def __init__(
        self,
        command: str,
        label: str,
        total: int | None = None,
        unit: str = "",
        *,
        mode: str | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.command, self.label, self.total, self.unit = command, label, total, unit
        self.stream = stream or sys.stderr
        self.mode = mode or auto_mode(self.stream)
        self.done = 0
        self.start = self.last = time.perf_counter()
        self.interval = _interval()
        self.bar: Any = None
        if self.mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, desc=f"{command}: {label}", unit=f" {unit}".rstrip() or "it", file=self.stream, leave=False
            )

    def _count(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.total is not None and self.done > self.total:  # e.g. Hypothesis shrinking a failure
            return f"{self.total}/{self.total}{unit} + {self.done - self.total} more (shrinking)"
        of = "" if self.total is None else f"/{self.total}"
        return f"{self.done}{of}{unit}"

    def line(self, text: str) -> None:
        """Print ``prefdyn COMMAND: text`` now (plain-line mode only; a bar shows it inline)."""
        if self.mode == "lines":
            print(f"prefdyn {self.command}: {text}", file=self.stream, flush=True)
        elif self.bar is not None:
            self.bar.set_postfix_str(text[:40])

    def update(self, n: int = 1, note: str = "") -> None:
        """``n`` more units done (``note``: what was just finished)."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if self.mode == "lines" and now - self.last >= self.interval:
            self.last = now
            extra = f", {note}" if note else ""
            self.line(f"{self.label}: {self._count()}{extra} ({now - self.start:.0f} s{self._pace(now)})")

    def _pace(self, now: float) -> str:
        """``", 2.5/s, ETA 40 s"``: the mean rate so far and the time left at that rate."""
        elapsed = now - self.start
        if self.total is None or elapsed <= 0 or not 0 < self.done < self.total:
            return ""
        rate = self.done / elapsed
        return f", {rate:.3g}/s, ETA {(self.total - self.done) / rate:.0f} s"

    def close(self, summary: str = "") -> float:
        """End the task; in plain-line mode one final line. Returns the seconds it took."""
        seconds = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.close()
        elif self.mode == "lines":
            self.line(f"{self.label}: {summary or self._count()} ({seconds:.1f} s)")
        return seconds
