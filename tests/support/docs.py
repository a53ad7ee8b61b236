"""Examples from a Markdown page, so tests run exactly what the documentation shows.

A fenced block in a runnable language (`python`, `sh`, `ruby`) is an
example; a `text` block right after it is the output it must print.  Times
("in 12.34 ms") and the home directory (`/HOME`) are normalised on both
sides, trailing blanks ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNNABLE = ("python", "sh", "ruby")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass
class Example:
    line: int
    language: str
    code: str
    expected: str | None = None

    @property
    def id(self) -> str:
        return f"{self.language}-line{self.line}"


def examples(path: Path) -> list[Example]:
    text = path.read_text()
    found: list[Example] = []
    previous_end = None
    for match in _FENCE.finditer(text):
        language, code = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        if language in RUNNABLE:
            found.append(Example(line, language, code))
        elif language == "text":
            between = text[previous_end:match.start()] if previous_end is not None else "x"
            if not found or between.strip() or found[-1].expected is not None:
                raise AssertionError(f"{path}:{line}: a text block must directly follow the example it shows")
            found[-1].expected = code
        previous_end = match.end()
    return found


def normalise(output: str, home: Path | None = None) -> str:
    if home is not None:
        output = output.replace(str(home), "/HOME")
    output = re.sub(r"\bin \d+(\.\d+)? ms\b", "in 12.34 ms", output)
    lines = [line.rstrip() for line in output.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
