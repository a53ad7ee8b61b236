"""`mco rpc`: call any action of any agent, validated against its DDL."""

from __future__ import annotations

import argparse
from typing import Any

from pymco.aggregate.base import Aggregator
from pymco.cli import pipeline
from pymco.cli.application import Application, UsageError
from pymco.cli.discovery_line import discover_with_line, wanted
from pymco.cli.output import render_json, render_results, render_stats
from pymco.cli.progress import Progress
from pymco.client.results import RPCResult
from pymco.ddl.validate import coerce_cli_value

__all__ = ["Rpc", "parse_arguments", "RpcRunner"]


def parse_arguments(items: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or value == "":
            raise UsageError(f"Could not parse --arg {item}")
        args[key] = value
    return args


class RpcRunner:
    """Shared by `mco rpc` and the agent applications: call, print, exit code."""

    def __init__(self, app: Application) -> None:
        self.app = app

    def call(self, agent: str, action: str, arguments: dict[str, Any], caption: str | None = None,
             summarize: bool = True, printer: Any = None) -> int:
        app = self.app
        args = app.args
        ddl = app.load_ddl(agent)
        spec = ddl.action(action)
        client = app.rpc_client(agent, ddl=ddl)
        if getattr(args, "no_results", False) or args.reply_to:
            requestid = client.fire_and_forget(action, arguments)
            suffix = f" replies to {args.reply_to}" if args.reply_to else ""
            app.out(f"Request sent with id: {requestid}{suffix}")
            return 0
        json_out = getattr(args, "json", False)
        replies = pipeline.from_args(args, app.stdout)
        streaming = replies is not None and replies.streaming
        progress = Progress(app.stdout, app.colour, enabled=args.progress and not json_out and not streaming)
        aggregator = Aggregator(spec) if spec is not None and summarize else None
        results: list[RPCResult] = []

        def on_result(result: RPCResult) -> None:
            if replies is not None and not replies.accept(result):
                return
            results.append(result)
            if aggregator is not None:
                aggregator.process(result.data, result)

        discover_with_line(app, client, wanted(app, json_out))
        stats = client.call(action, arguments, on_result=on_result, on_progress=progress.update)
        progress.finish()
        if not stats.discovered:
            app.err("\nNo request sent, we did not discover any nodes.")
        if streaming:  # --jsonl / --senders printed each reply as it came
            app.stats_to_stderr(stats)
            return app.halt(stats)
        if args.sort:
            results.sort(key=lambda r: r.sender)
        if json_out:  # `[]` when nothing matched, as Ruby: `jq` and json.load need a document
            app.stdout.write(render_json(results, app.stdout))
            return app.halt(stats)
        if not stats.discovered:
            if printer is None:
                app.stdout.write("\n\n")  # Ruby's printrpc of no results
            return app.halt(stats)
        if printer is not None:
            printer(results)
        else:
            app.stdout.write("\n" + render_results(results, spec, args.display, app.colour,
                                                   verbose=args.verbose))
        aggregates = aggregator.results() if aggregator is not None else None
        app.stdout.write("\n" + render_stats(stats, app.colour, aggregates,
                                             caption=caption or f"{agent}#{action} call stats",
                                             verbose=args.verbose))
        return app.halt(stats)


class Rpc(Application):
    name = "rpc"
    description = "Generic RPC agent client application"
    stdin_discovery = True
    usage = ["mco rpc [options] [filters] --agent <agent> --action <action> [--argument <key=val> ...]",
             "mco rpc [options] [filters] <agent> <action> [<key=val> ...]"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--no-results", "--nr", dest="no_results", action="store_true",
                            help="Do not process results, just send request")
        parser.add_argument("-a", "--agent", dest="agent_name", help="Agent to call")
        parser.add_argument("--action", dest="action_name", help="Action to call")
        parser.add_argument("--arg", "--argument", dest="arguments", action="append", default=[],
                            metavar="KEY=VAL", help="Arguments to pass to agent")
        parser.add_argument("positional", nargs="*", help=argparse.SUPPRESS)
        pipeline.add_arguments(parser)

    def main(self) -> int:
        args = self.args
        words = list(args.positional)
        agent = args.agent_name or (words.pop(0) if words else None)
        action = args.action_name or (words.pop(0) if words else None)
        if not agent or not action:
            raise UsageError("Please specify an agent and action, e.g. mco rpc rpcutil ping")
        raw = parse_arguments(args.arguments + words)
        ddl = self.load_ddl(agent)
        spec = ddl.action(action)
        arguments = {k: coerce_cli_value(spec.inputs.get(k) if spec else None, v) for k, v in raw.items()}
        return RpcRunner(self).call(agent, action, arguments)
