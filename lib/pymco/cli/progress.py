"""MCollective's progress bar, drawn only when stdout is a terminal."""

from __future__ import annotations

from typing import TextIO

from pymco.cli.output import Colour

__all__ = ["Progress"]


class Progress:
    TWIRL = "|/-\\"

    def __init__(self, stream: TextIO, colour: Colour, enabled: bool = True) -> None:
        self.stream = stream
        self.colour = colour
        self.enabled = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.tick = 0
        self.drawn = False

    def update(self, current: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        import shutil  # only when drawing: it loads bz2, lzma and fnmatch

        columns = shutil.get_terminal_size((80, 24)).columns
        width = max(10, min(60, columns - 22))
        filled = int(width * current / total)
        bar = "=" * max(0, filled - 1) + (">" if filled else "")
        if current >= total:
            mark = self.colour("green", "*")
        else:
            mark = self.colour("red", self.TWIRL[self.tick % 4])
            self.tick += 1
        self.stream.write(f"\r {mark} [ {bar:<{width}} ] {current} / {total}")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
