"""`mco`: find the application named by the first argument and run it.

This is the only place where errors become messages and exit codes: a
PymcoError or usage error is one line on stderr and exit 1 ("The <app>
application failed to run: ..."); Ctrl-C is 130; a broken pipe is quiet.
Nothing here imports the broker or YAML machinery, so `mco help` is quick.
"""

from __future__ import annotations

import logging
import os
import sys

from pymco import __version__
from pymco.cli.apps import application_names, find_application

__all__ = ["main"]


def _config_option(argv: list[str]) -> str | None:
    """The -c/--config value, so applications in the config's libdirs can be found."""
    for index, arg in enumerate(argv):
        if arg in ("-c", "--config") and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.partition("=")[2]
    return None


def _known(stream, config: str | None = None) -> None:  # type: ignore[no-untyped-def]
    names = application_names(config)
    stream.write("Known commands:\n\n")
    for i in range(0, len(names), 3):
        stream.write("   " + "".join(f"{n:<20}" for n in names[i:i + 3]).rstrip() + "\n")
    stream.write("\nType 'mco help' for a detailed list of commands and 'mco help command'\n"
                 "to get detailed help for a command\n\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stomp.py").setLevel(logging.CRITICAL)
    if "--debug" in argv:
        argv = [a for a in argv if a != "--debug"]
        logging.getLogger().setLevel(logging.DEBUG)
    name = next((a for a in argv if not a.startswith("-")), None)
    if name is None:
        if "--version" in argv:
            print(f"pymco {__version__}")
            return 0
        sys.stdout.write(f"usage: {os.path.basename(sys.argv[0])} command <options>\n\n")
        _known(sys.stdout)
        return 0
    config = _config_option(argv)
    from pymco.errors import PymcoError

    try:
        cls = find_application(name, config)
    except PymcoError as exc:
        sys.stderr.write(f"mco {name}: {exc}\n")
        return 1
    if cls is None:
        sys.stderr.write(f"pymco {__version__}\n\nUnknown command '{name}'\n\n")
        _known(sys.stderr, config)
        return 1
    rest = list(argv)
    rest.remove(name)
    app = cls()
    verbose = "-v" in rest or "--verbose" in rest
    from pymco.cli.application import UsageError

    try:
        return app.run(rest)
    except UsageError as exc:
        sys.stderr.write(f"mco {name}: {exc}\nPlease run with --help for detailed help\n")
        return 1
    except PymcoError as exc:
        if verbose:
            logging.getLogger("pymco").exception("application failure")
        sys.stderr.write(f"The {name} application failed to run, use -v for full error backtrace details: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted\n")
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
