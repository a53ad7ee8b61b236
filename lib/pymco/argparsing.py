"""An ArgumentParser that measures the terminal only when it prints help.

argparse builds a HelpFormatter for every `add_argument()` (to check the
metavar), and each one imports shutil (with bz2, lzma and fnmatch) and asks
for the terminal size: about 0.6 MiB of daemon RSS and a few milliseconds of
every `mco` start for output nobody reads.  This parser hands those checks a
fixed-width formatter and uses the real one for help and usage text.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["ArgumentParser"]


class ArgumentParser(argparse.ArgumentParser):
    _printing = False

    def _get_formatter(self) -> argparse.HelpFormatter:
        if self._printing:
            return super()._get_formatter()
        return self.formatter_class(prog=self.prog, width=80)

    def _printed(self, render: Any) -> str:
        self._printing = True
        try:
            return render()
        finally:
            self._printing = False

    def format_help(self) -> str:
        return self._printed(super().format_help)

    def format_usage(self) -> str:
        return self._printed(super().format_usage)
