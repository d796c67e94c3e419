"""Plain-text progress on stderr: `[#####     ]  52% 3120 records 08:15 sim-time`.

On a terminal a bar redraws one line (at most five times a second); into a file or pipe it
writes a line at every tenth of the work, so logs stay short. Work of unknown size (a
download whose total nobody announces) has no bar: a count, redrawn on a terminal, and
into a file a line every few seconds.

    Progress      a bar over `total` steps, or a count when the total is unknown
    ├── Count     "<label>: 3120 of 6000 rows", or bytes as "12.3 of 48.0 MB"
    └── ProgressBar  the simulator's: simulated time, with the records sent
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TextIO

__all__ = ["Progress", "Count", "ProgressBar", "human_bytes"]


class Progress:
    def __init__(self, stream: TextIO, total: int | None, width: int = 10,
                 clock=time.monotonic, redraw_s: float = 0.2, every_s: float = 5.0):
        self.stream, self.total, self.width = stream, (max(total, 1) if total is not None else None), width
        self.clock, self.redraw_s, self.every_s = clock, redraw_s, every_s
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_draw = -redraw_s
        self._last_line_at = clock()
        self._next_tenth = 0
        self._last_line = ""

    def describe(self, done: int, *details) -> str:
        return f"{done} of {self.total}" if self.total is not None else str(done)

    def line(self, done: int, *details) -> str:
        if self.total is None:
            return self.describe(done, *details)
        fraction = min(max(done / self.total, 0.0), 1.0)
        filled = int(fraction * self.width)
        bar = "#" * filled + " " * (self.width - filled)
        return f"[{bar}] {int(fraction * 100):3d}% {self.describe(done, *details)}"

    def _write(self, text: str, prefix: str = "", end: str = "") -> None:
        self._last_line = text
        self.stream.write(prefix + text + end)
        self.stream.flush()

    def update(self, done: int, *details) -> None:
        now = self.clock()
        if self.tty:
            if now - self._last_draw >= self.redraw_s:
                self._last_draw = now
                self._write(self.line(done, *details), prefix="\r")
        elif self.total is None:
            if now - self._last_line_at >= self.every_s:
                self._last_line_at = now
                self._write(self.line(done, *details), end="\n")
        elif self._next_tenth < 10 and done * 10 >= self._next_tenth * self.total:  # 100%: finish()
            self._next_tenth = done * 10 // self.total + 1
            self._write(self.line(done, *details), end="\n")

    def finish(self, done: int, *details) -> None:
        line = self.line(done, *details)
        if self.tty:
            self._write(line, prefix="\r", end="\n")
        elif line != self._last_line:
            self._write(line, end="\n")


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class Count(Progress):
    """`<label>: 3120 of 6000 rows`; with unit "bytes", sizes (`12.3 MB of 48.0 MB`). A
    finished count shows 100%: the total may have been an estimate from above."""

    def __init__(self, stream: TextIO, total: int | None, label: str, unit: str = "", **kwargs):
        super().__init__(stream, total, **kwargs)
        self.label, self.unit = label, unit

    def _amount(self, n: int) -> str:
        return human_bytes(n) if self.unit == "bytes" else str(n)

    def describe(self, done: int, *details) -> str:
        suffix = f" {self.unit}" if self.unit and self.unit != "bytes" else ""
        amount = self._amount(done) if self.total is None else f"{self._amount(done)} of {self._amount(self.total)}"
        extra = f" ({details[0]})" if details and details[0] else ""
        return f"{self.label}: {amount}{suffix}{extra}"

    def finish(self, done: int, *details) -> None:
        if self.total is not None:
            self.total = max(done, 1)
        super().finish(done, *details)


class ProgressBar(Progress):
    """The simulator's bar: simulated time over the run's duration, with the records sent."""

    def __init__(self, stream: TextIO, start: datetime, total_ms: int, width: int = 10,
                 clock=time.monotonic, redraw_s: float = 0.2):
        super().__init__(stream, total_ms, width=width, clock=clock, redraw_s=redraw_s)
        self.start = start
        self.total_ms = self.total

    def describe(self, t_ms: int, *details) -> str:
        records = details[0] if details else 0
        sim_time = (self.start + timedelta(milliseconds=t_ms)).strftime("%H:%M")
        return f"{records} records {sim_time} sim-time"
