"""A plain-text progress bar on stderr: `[#####     ] 52% 3120 records 08:15 sim-time`.

On a terminal it redraws one line (at most five times a second); into a file or pipe it
writes a line at every tenth of the run, so logs stay short.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(self, stream: TextIO, start: datetime, total_ms: int, width: int = 10,
                 clock=time.monotonic, redraw_s: float = 0.2):
        self.stream, self.start, self.total_ms, self.width = stream, start, max(total_ms, 1), width
        self.clock, self.redraw_s = clock, redraw_s
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_draw = -redraw_s
        self._next_tenth = 0
        self._last_line = ""

    def _write(self, text: str, prefix: str = "", end: str = "") -> None:
        self._last_line = text
        self.stream.write(prefix + text + end)
        self.stream.flush()

    def line(self, t_ms: int, records: int) -> str:
        fraction = min(max(t_ms / self.total_ms, 0.0), 1.0)
        filled = int(fraction * self.width)
        sim_time = (self.start + timedelta(milliseconds=t_ms)).strftime("%H:%M")
        bar = "#" * filled + " " * (self.width - filled)
        return f"[{bar}] {int(fraction * 100):3d}% {records} records {sim_time} sim-time"

    def update(self, t_ms: int, records: int) -> None:
        if self.tty:
            now = self.clock()
            if now - self._last_draw >= self.redraw_s:
                self._last_draw = now
                self._write(self.line(t_ms, records), prefix="\r")
        elif self._next_tenth < 10 and t_ms * 10 >= self._next_tenth * self.total_ms:  # 100%: finish()
            self._next_tenth = t_ms * 10 // self.total_ms + 1
            self._write(self.line(t_ms, records), end="\n")

    def finish(self, t_ms: int, records: int) -> None:
        line = self.line(t_ms, records)
        if self.tty:
            self._write(line, prefix="\r", end="\n")
        elif line != self._last_line:
            self._write(line, end="\n")
