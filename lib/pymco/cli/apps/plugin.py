"""`mco plugin`: document, generate and export plugins.

    mco plugin doc                       every installed plugin, by kind
    mco plugin doc <agent>|agent/<name>|data/<name>
    mco plugin generate agent <name> [actions=a,b]   agents/<name>.py + ddl/<name>.yaml
    mco plugin generate client <agent>               <agent>_client.py: a typed Python client
    mco plugin generate application <name>           applications/<name>.py: a custom `mco <name>`
    mco plugin export-ddl <agent> ... [--output DIR] [--format ruby|json|both]

Docs and generated files come from the jinja2 templates in `templates/`.
export-ddl writes `<DIR>/mcollective/agent/<name>.ddl` (and `.json`), plus
any aggregate plugin Ruby lacks in `<DIR>/mcollective/aggregate/`: a layout a
Ruby MCollective `libdir` takes as it is.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from pymco import plugins
from pymco.cli.application import Application
from pymco.config import load_config, default_client_config
from pymco.data.base import load_data_ddl
from pymco.ddl.export import choria_json, ruby_aggregates, to_ruby
from pymco.ddl.loader import known_ddls, load_ddl
from pymco.ddl.model import AgentDDL
from pymco.errors import ClientError, DDLError
from pymco.paths import ddl_dirs
from pymco.templating import render

__all__ = ["Plugin"]

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_KINDS = (("Agents", "agent"), ("Aggregate", "aggregate"), ("Connectors", "connector"), ("Data Queries", "data"),
          ("Discovery Methods", "discovery"), ("Validator Plugins", "validator"))


class Plugin(Application):
    name = "plugin"
    description = "Document, generate and export plugins"
    exclude_sections = ("common", "filter", "rpc")
    usage = ["mco plugin doc [<plugin>|agent/<plugin>|data/<plugin>]",
             "mco plugin generate agent <pluginname> [actions=val,val]",
             "mco plugin generate client <agent>",
             "mco plugin generate application <name>",
             "mco plugin export-ddl <agent> [<agent> ...] [--output DIR] [--format ruby|json|both]"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("-n", "--name", dest="pluginname", help="Plugin name")
        parser.add_argument("--description", help="Plugin description")
        parser.add_argument("--author", help="The author of the plugin")
        parser.add_argument("--license", help="The license under which the plugin is distributed")
        parser.add_argument("--pluginversion", dest="version", help="The version of the plugin")
        parser.add_argument("--url", help="Url at which information about the plugin can be found")
        parser.add_argument("--timeout", type=int, help="The plugin's timeout")
        parser.add_argument("--actions", help="Actions to be generated for an Agent Plugin (a,b,c)")
        parser.add_argument("--output", default=".", help="Where export-ddl and generate write (default: .)")
        parser.add_argument("--format", choices=("ruby", "json", "both"), default="both",
                            help="What export-ddl writes: Ruby DDL, Choria JSON DDL, or both")
        parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)

    def parse(self, argv: list[str]) -> None:
        # generate and doc must work on a machine without a client configuration
        self.args = self.build_parser().parse_args(argv)
        path = self.args.config or default_client_config()
        if self.args.config or os.access(path, os.R_OK):
            self.config = load_config(path, mode="client")

    def main(self) -> int:
        words = list(self.args.words)
        if not words:
            raise ClientError("Please specify a command: doc, generate or export-ddl")
        command = words.pop(0)
        handler = {"doc": self.doc, "generate": self.generate, "export-ddl": self.export_ddl}.get(command)
        if handler is None:
            raise ClientError(f"Unknown plugin command '{command}': use doc, generate or export-ddl")
        return handler(words)

    # ------------------------------------------------------------ doc
    def doc(self, words: list[str]) -> int:
        if not words:
            self.stdout.write(render("plugin-list.j2", **self.inventory()))
            return 0
        kind, _, name = words[0].rpartition("/")
        if kind not in ("", "agent", "data"):
            raise ClientError(f"Cannot document {kind} plugins: only agent and data plugins have DDLs")
        if kind != "data" and name in known_ddls(ddl_dirs(self.config)):
            self.stdout.write(render("agent-doc.j2", ddl=load_ddl(name, ddl_dirs(self.config))))
            return 0
        if kind != "agent":
            try:
                self.stdout.write(render("data-doc.j2", ddl=load_data_ddl(name, self.config)))
                return 0
            except DDLError:
                pass
        raise ClientError(f"Could not find a plugin named '{words[0]}' in any supported plugin type")

    def inventory(self) -> dict[str, Any]:
        errors: list[tuple[str, str]] = []
        kinds = []
        for title, kind in _KINDS:
            entries = []
            if kind == "agent":
                for name in known_ddls(ddl_dirs(self.config)):
                    try:
                        entries.append((name, load_ddl(name, ddl_dirs(self.config)).metadata.description))
                    except DDLError as exc:
                        errors.append((f"agent/{name}", str(exc)))
            elif kind == "data":
                for name in self.data_names():
                    try:
                        entries.append((name, load_data_ddl(name, self.config).metadata.get("description", "")))
                    except DDLError as exc:
                        errors.append((f"data/{name}", str(exc)))
            else:
                entries = [(name, plugins.describe(kind, name)) for name in plugins.names(kind)]
            kinds.append((title, entries))
        return {"kinds": kinds, "errors": errors}

    def data_names(self) -> list[str]:
        found: set[str] = set()
        for directory in ddl_dirs(self.config):
            data = os.path.join(directory, "data")
            if os.path.isdir(data):
                found.update(entry[:-5] for entry in os.listdir(data) if entry.endswith(".yaml"))
        return sorted(found)

    # ------------------------------------------------------------ generate
    def metadata(self, key: str, default: Any) -> Any:
        """An option, else `plugin.metadata.<key>` from the config (as MCollective), else a placeholder."""
        value = getattr(self.args, key)
        if value is None and self.config is not None:
            value = self.config.plugin(f"metadata.{key}")
        return default if value is None else value

    def generate(self, words: list[str]) -> int:
        kind = words[0] if words else None
        if kind in ("client", "application"):
            return self.generate_module(kind, words[1:])
        if kind != "agent":
            raise ClientError("Please specify what to generate: mco plugin generate agent|client|application <name>")
        words = words[1:]
        name = self.args.pluginname or (words.pop(0) if words and not words[0].startswith("actions=") else None)
        if not name:
            raise ClientError("Please specify the agent's name: mco plugin generate agent <name>")
        actions = [a for a in (self.args.actions or "").split(",") if a]
        for word in words:
            key, sep, value = word.partition("=")
            if not sep or key.lower() != "actions":
                raise ClientError(f"Could not parse --arg '{word}'")
            actions += [a for a in value.split(",") if a]
        for identifier in [name] + actions:
            if not _NAME.fullmatch(identifier):
                raise ClientError(f"'{identifier}' is not a valid name: use lower case letters, digits and _")
        context = {"name": name, "actions": list(dict.fromkeys(actions)),
                   "description": self.metadata("description", f"The {name} agent"),
                   "author": self.metadata("author", "unknown"), "license": self.metadata("license", "Apache-2.0"),
                   "version": str(self.metadata("version", "0.1.0")), "url": self.metadata("url", "https://example.com"),
                   "timeout": int(self.metadata("timeout", 10))}
        targets = {os.path.join(self.args.output, "agents", f"{name}.py"): render("agent.py.j2", **context),
                   os.path.join(self.args.output, "ddl", f"{name}.yaml"): render("agent.yaml.j2", **context)}
        for path in targets:
            if os.path.exists(path):
                raise ClientError(f"cannot generate '{name}': {path} already exists")
        for path, text in targets.items():
            self.write_new(path, text, "DDL" if path.endswith(".yaml") else "agent")
        return 0

    def write_new(self, path: str, text: str, what: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.out(f"Created {what} file : {path}")

    def generate_module(self, kind: str, words: list[str]) -> int:
        """`generate client <agent>` (from its DDL) or `generate application <name>`."""
        from pymco.cli.codegen import application_module, client_module

        name = self.args.pluginname or (words[0] if words else None)
        if not name or len(words) > (0 if self.args.pluginname else 1):
            raise ClientError(f"Please specify one name: mco plugin generate {kind} <name>")
        if not _NAME.fullmatch(name):
            raise ClientError(f"'{name}' is not a valid name: use lower case letters, digits and _")
        if kind == "client":
            path = os.path.join(self.args.output, f"{name}_client.py")
            text = client_module(load_ddl(name, ddl_dirs(self.config)))
        else:
            path = os.path.join(self.args.output, "applications", f"{name}.py")
            text = application_module(name, self.metadata("description", f"The {name} application"))
        if os.path.exists(path):
            raise ClientError(f"cannot generate '{name}': {path} already exists")
        self.write_new(path, text, kind)
        return 0

    # ------------------------------------------------------------ export-ddl
    def export_ddl(self, words: list[str]) -> int:
        if not words:
            raise ClientError("Please specify the agents whose DDL to export: mco plugin export-ddl <agent> ...")
        ddls: list[AgentDDL] = [load_ddl(name, ddl_dirs(self.config)) for name in words]
        directory = os.path.join(self.args.output, "mcollective", "agent")
        outputs = []
        for ddl in ddls:
            if self.args.format in ("ruby", "both"):
                outputs.append((os.path.join(directory, f"{ddl.name}.ddl"), to_ruby(ddl)))
            if self.args.format in ("json", "both"):
                outputs.append((os.path.join(directory, f"{ddl.name}.json"), choria_json(ddl)))
        if self.args.format in ("ruby", "both"):
            aggregates = os.path.join(self.args.output, "mcollective", "aggregate")
            outputs += [(os.path.join(aggregates, name), text) for name, text in ruby_aggregates(ddls).items()]
        for path, text in outputs:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                raise ClientError(f"cannot write {path}: {exc.strerror}") from None
            self.out(f"Wrote {path}")
        return 0
