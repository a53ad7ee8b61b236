"""Agents for reliability tests: `slow` naps on request, `hung` never returns.

Written into a libdir that test nodes load with `libdir = ...`; the client
reads the same DDLs through its own `libdir`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SLOW_AGENT = '''
import logging
import time

from pymco.agent import Agent, action

log = logging.getLogger("agent.slow")


class Slow(Agent):
    @action
    def nap(self, request, reply):
        log.info("napping %s seconds for %s", request["seconds"], request.uniqid)
        time.sleep(float(request["seconds"]))
        reply["slept"] = request["seconds"]

    @action
    def explode(self, request, reply):
        reply["before"] = "filled in"
        raise RuntimeError("the flux capacitor is broken")
'''

SLOW_DDL = """
metadata: {name: slow, description: Sleeps on request, author: tests, license: Apache-2.0, version: "1",
           url: "-", timeout: 60}
actions:
  - action: nap
    description: Sleep a while, then answer
    input:
      seconds: {prompt: Seconds, description: How long, type: integer, optional: false}
    output:
      slept: {description: Seconds slept, display_as: Slept}
  - action: explode
    description: Raise an exception
    output:
      before: {description: Set before failing, display_as: Before}
"""

BROKEN_AGENT = "from pymco.agent import Agent, action\n\nclass Broken(Agent)\n    pass\n"  # a syntax error

BROKEN_DDL = """
metadata: {name: broken, description: Cannot load, author: tests, license: Apache-2.0, version: "1",
           url: "-", timeout: 5}
actions:
  - action: anything
    description: Never runs
"""

HUNG_AGENT = '''
import logging

from pymco.agent import Agent, action

log = logging.getLogger("agent.hung")
HANG_SECONDS = "599.25"  # a distinctive command line: tests look for leftovers


class Hung(Agent):
    @action
    def forever(self, request, reply):
        log.info("hanging for %s", request.uniqid)
        self.run(["sleep", HANG_SECONDS])
        reply["done"] = True
'''

HANG_COMMAND = "sleep 599.25"

HUNG_DDL = """
metadata: {name: hung, description: Never answers by itself, author: tests, license: Apache-2.0,
           version: "1", url: "-", timeout: 2}
actions:
  - action: forever
    description: Hang until killed
    output:
      done: {description: Done, display_as: Done}
"""


def write_slow_agents(libdir: Path) -> Path:
    (libdir / "agents").mkdir(parents=True, exist_ok=True)
    (libdir / "ddl").mkdir(parents=True, exist_ok=True)
    for name, code, ddl in (("slow", SLOW_AGENT, SLOW_DDL), ("hung", HUNG_AGENT, HUNG_DDL)):
        (libdir / "agents" / f"{name}.py").write_text(textwrap.dedent(code))
        (libdir / "ddl" / f"{name}.yaml").write_text(textwrap.dedent(ddl))
    return libdir


def write_broken_agent(libdir: Path) -> None:
    """An agent whose module does not even compile; the daemon must skip it and serve the rest."""
    (libdir / "agents" / "broken.py").write_text(BROKEN_AGENT)
    (libdir / "ddl" / "broken.yaml").write_text(textwrap.dedent(BROKEN_DDL))
