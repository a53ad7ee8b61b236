"""The puppet agent's logic: run options, Puppet's state files, resource policy, `mco puppet` output."""

from __future__ import annotations

import json
import os
import time

import pytest

from pymco.cli.apps.puppet import shorten_number, spark, sparkline
from pymco.client.results import RPCResult
from pymco.config import Config
from pymco.errors import ActionFailed, RPCAborted
from pymco.puppet.resource import ResourceOutcome, check_policy
from pymco.puppet.runonce import RunCommand, RunOptions, cli_options
from pymco.puppet.settings import PuppetPaths
from pymco.puppet.state import AgentState, seconds_to_human


def test_cli_options_in_mcollectives_order():
    opts = RunOptions(noop=True, tags=["apache", "mysql::server"], skip_tags=["x"], environment="dev",
                      server="[::1]:8141", splay=True, splaylimit=30, ignoreschedules=True, use_cached_catalog=False)
    assert cli_options(opts) == ["--tags", "apache,mysql::server", "--skip_tags", "x", "--splay", "--splaylimit",
                                 "30", "--noop", "--environment", "dev", "--server", "::1", "--masterport", "8141",
                                 "--ignoreschedules", "--no-use_cached_catalog"]
    assert cli_options(RunOptions()) == []


@pytest.mark.parametrize("opts,message", [
    (RunOptions(environment="dev-1"), "Invalid environment 'dev-1' specified"),
    (RunOptions(splaylimit=1.5), "Invalid splaylimit '1.5' specified"),
    (RunOptions(tags=["a b"]), "Invalid tag 'a b' specified"),
    (RunOptions(skip_tags=["::x"]), "Invalid skip_tag '::x' specified"),
    (RunOptions(server="host:port"), "The port 'port' is not a valid puppet master port"),
])
def test_cli_option_errors(opts, message):
    with pytest.raises(ActionFailed, match=f"^{message}$"):
        cli_options(opts)


def test_agent_and_masterless_commands():
    agent = RunCommand("puppet agent")
    options = cli_options(RunOptions(splay=True, splaylimit=30, noop=False))
    assert not agent.masterless
    assert " ".join(agent.full(options)) == ("puppet agent --onetime --no-daemonize --color=false --show_diff "
                                             "--verbose --splay --splaylimit 30 --no-noop")
    apply = RunCommand("puppet apply '/etc/puppet/code/site.pp'")
    assert apply.masterless and apply.puppet == "puppet"
    assert apply.full(options) == ["puppet", "apply", "/etc/puppet/code/site.pp", "--color=false", "--show_diff",
                                   "--verbose", "--write-catalog-summary", "--no-noop"]


@pytest.mark.parametrize("seconds,text", [(5, "05 seconds"), (65, "1 minutes 05 seconds"),
                                          (3725, "1 hours 2 minutes 05 seconds"),
                                          (90061, "1 day 1 hours 1 minutes 01 seconds"),
                                          (2 * 86400 + 3 * 3600 + 4 * 60 + 5, "2 days 3 hours 4 minutes 05 seconds")])
def test_seconds_to_human(seconds, text):
    assert seconds_to_human(seconds) == text


@pytest.fixture
def state(tmp_path):
    paths = PuppetPaths(agent_catalog_run_lockfile=str(tmp_path / "state" / "agent_catalog_run.lock"),
                        agent_disabled_lockfile=str(tmp_path / "state" / "agent_disabled.lock"),
                        pidfile=str(tmp_path / "run" / "agent.pid"),
                        lastrunfile=str(tmp_path / "public" / "last_run_summary.yaml"),
                        lastrunreport=str(tmp_path / "state" / "last_run_report.yaml"),
                        resourcefile=str(tmp_path / "state" / "resources.txt"), environment="production",
                        config=str(tmp_path / "puppet.conf"))
    for sub in ("state", "run", "public"):
        (tmp_path / sub).mkdir()
    return AgentState(paths)


def test_state_of_a_node_that_never_ran(state):
    status = state.status()
    assert status["status"] == "stopped" and status["lastrun"] == 0 and status["enabled"] is True
    summary = state.load_summary()
    assert summary["resources"] == {"failed": 0, "changed": 0, "corrective_change": 0, "total": 0, "restarted": 0,
                                    "out_of_sync": 0}
    assert state.last_run_logs() == [] and state.type_distribution() == {}


def test_disable_and_enable_write_puppets_lock(state):
    assert state.disable("maintenance") == "maintenance"
    with open(state.paths.agent_disabled_lockfile) as handle:
        assert json.load(handle) == {"disabled_message": "maintenance"}
    assert state.status()["status"] == "disabled" and state.lock_message() == "maintenance"
    with pytest.raises(ActionFailed, match="^Already disabled$"):
        state.disable("again")
    state.enable()
    assert not os.path.exists(state.paths.agent_disabled_lockfile)
    with pytest.raises(ActionFailed, match="^Already enabled$"):
        state.enable()


def test_applying_and_daemon_need_live_pids(state):
    with open(state.paths.agent_catalog_run_lockfile, "w") as handle:
        handle.write(str(os.getpid()))
    with open(state.paths.pidfile, "w") as handle:
        handle.write("999999999")
    status = state.status()
    assert status["applying"] is True and status["status"] == "applying a catalog"
    assert status["daemon_present"] is False and status["idling"] is False
    with open(state.paths.pidfile, "w") as handle:
        handle.write(str(os.getpid()))
    os.unlink(state.paths.agent_catalog_run_lockfile)
    assert state.status()["status"] == "idling"


REPORT = """--- !ruby/object:Puppet::Transaction::Report
host: n1
status: changed
logs:
- !ruby/object:Puppet::Util::Log
  level: !ruby/sym notice
  message: "defined content as 'x'\\n"
  source: "/Stage[main]/Main/File[/tmp/x]/ensure"
  time: '2026-01-02T03:04:05.123456789+00:00'
"""


def test_summary_logs_and_resources_from_puppets_files(state):
    now = int(time.time())
    with open(state.paths.lastrunfile, "w") as handle:
        handle.write(f"---\nversion:\n  config: 1234\n  puppet: 7.23.0\nresources:\n  changed: 2\n  total: 9\n"
                     f"time:\n  config_retrieval: 0.5\n  total: 1.5\n  last_run: {now - 65}\n")
    with open(state.paths.lastrunreport, "w") as handle:
        handle.write(REPORT)
    with open(state.paths.resourcefile, "w") as handle:
        handle.write("file[/tmp/x]\nexec[/bin/true]\nmy::thing[a]\nfile[/tmp/y]\n")
    summary = state.load_summary()
    assert summary["resources"]["changed"] == 2 and summary["resources"]["failed"] == 0
    assert state.lastrun() == now - 65
    assert state.status()["message"].startswith("Currently stopped; last completed run 1 minutes 0")
    assert state.last_run_logs() == [{"time_utc": 1767323045, "time": 1767323045, "level": "notice",
                                      "source": "/Stage[main]/Main/File[/tmp/x]/ensure",
                                      "msg": "defined content as 'x'"}]
    assert state.type_distribution() == {"File": 2, "Exec": 1, "My::Thing": 1}
    assert state.managing("File[/tmp/x]") and not state.managing("File[/tmp/z]")


def policy(**plugin):
    return Config(pluginconf={k.replace("__", "."): v for k, v in plugin.items()})


@pytest.mark.parametrize("settings,kind,name,message", [
    ({}, "file", "/x", "The file type is not listed in the type whitelist"),
    ({"puppet__resource_type_whitelist": "none"}, "file", "/x", "The file type is not listed in the type whitelist"),
    ({"puppet__resource_type_whitelist": "file", "puppet__resource_type_blacklist": "exec"}, "file", "/x",
     "You cannot specify both puppet.resource_type_whitelist and puppet.resource_type_blacklist in the config file"),
    ({"puppet__resource_type_blacklist": "exec,cron"}, "exec", "x", "The exec type is listed in the type blacklist"),
    ({"puppet__resource_type_whitelist": "file", "puppet__resource_name_whitelist.file": "/a,/b"}, "file", "/x",
     "The /x name is not listed in the name whitelist"),
    ({"puppet__resource_type_whitelist": "file", "puppet__resource_name_blacklist.file": "/x"}, "file", "/x",
     "The /x name is listed in the name blacklist"),
])
def test_resource_policy_refusals(settings, kind, name, message):
    with pytest.raises(RPCAborted, match=f"^{message}$"):
        check_policy(policy(**settings), kind, name)


def test_resource_policy_allows():
    check_policy(policy(puppet__resource_type_whitelist="file,host"), "host", "db1")
    check_policy(policy(puppet__resource_type_blacklist="exec"), "file", "/x")


def test_resource_outcome_from_puppets_output():
    changed = ResourceOutcome(["Notice: /File[/tmp/x]/ensure: created", "file { '/tmp/x':", "}"], failed=False)
    assert changed.changed and changed.result == "/File[/tmp/x]/ensure: created"
    unchanged = ResourceOutcome(["file { '/tmp/x':", "}"], failed=False)
    assert not unchanged.changed and unchanged.result == "no output produced"


def test_sparkline():
    results = [RPCResult("puppet", "last_run_summary", f"n{i}", 0, "OK", {"total_resources": v})
               for i, v in enumerate([10, 10, 12, 2000])]
    results.append(RPCResult("puppet", "last_run_summary", "bad", 1, "failed", {"total_resources": 999999}))
    line = sparkline(results, "total_resources")
    assert line.startswith("▇▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▃  min: 10.0   avg: 508.0  max: 2.0k")
    assert sparkline([], "total_resources") == ""
    assert spark([3, 3, 3]) == "▁▁▁"
    assert shorten_number(1_500_000) == "1.5m" and shorten_number("x") == "NaN"


@pytest.mark.parametrize("command,configured,expected", [
    ("puppet agent --config /srv/a/puppet.conf", None, "/srv/a/puppet.conf"),
    ("puppet agent --config=/srv/a/puppet.conf --verbose", None, "/srv/a/puppet.conf"),
    ("puppet agent --config /srv/a/puppet.conf", "/srv/a/puppet.conf", "/srv/a/puppet.conf"),
    ("puppet agent", "/srv/b/puppet.conf", "/srv/b/puppet.conf"),
    ("puppet agent", None, None),
])
def test_puppet_config_follows_the_command(command, configured, expected):
    from pymco.puppet import puppet_config

    pluginconf = {"puppet.command": command, **({"puppet.config": configured} if configured else {})}
    config = Config(pluginconf=pluginconf)
    assert puppet_config(config, RunCommand(command)) == expected


def test_puppet_config_differing_from_the_command_is_refused():
    from pymco.puppet import puppet_config

    config = Config(pluginconf={"puppet.config": "/etc/puppet/puppet.conf"})
    with pytest.raises(ActionFailed, match="^plugin.puppet.config /etc/puppet/puppet.conf differs from --config "
                                           "/srv/a/puppet.conf in plugin.puppet.command"):
        puppet_config(config, RunCommand("puppet agent --config /srv/a/puppet.conf"))
