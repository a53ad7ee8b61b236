"""Issue 5: the Puppet module checked without applying it.

Puppet's own parser and EPP validator, puppet-lint with warnings as errors,
metadata.json and the Hiera data parsed, the rspec-puppet unit tests (Debian's
ruby-rspec-puppet and ruby-puppetlabs-spec-helper) and REFERENCE.md compared
with a fresh `puppet strings` run.  Every tool is required: a missing one
fails the test instead of skipping it, since CI must prove the module.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.cluster import which_or_fail

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "puppet_module"


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a tool with a clean, predictable locale (Puppet's messages are matched)."""
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def puppet_files(*folders: str, suffix: str = ".pp") -> list[str]:
    files = sorted(str(p) for folder in folders for p in (MODULE / folder).rglob(f"*{suffix}"))
    assert files, f"no {suffix} files under {folders}"
    return files


@pytest.fixture(scope="module")
def module_link(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module under its Puppet name: puppet-lint's autoload check wants `pymco/`."""
    link = tmp_path_factory.mktemp("modulepath") / "pymco"
    link.symlink_to(MODULE)
    return link


def test_metadata_json() -> None:
    metadata = json.loads((MODULE / "metadata.json").read_text())
    assert metadata["name"] == "pymco-pymco"
    assert re.fullmatch(r"\d+\.\d+\.\d+", metadata["version"])
    assert metadata["license"] and metadata["summary"] and metadata["source"]
    deps = {d["name"]: d["version_requirement"] for d in metadata["dependencies"]}
    assert deps == {"puppetlabs/stdlib": ">= 8.0.0 < 10.0.0"}
    [puppet] = [r for r in metadata["requirements"] if r["name"] == "puppet"]
    assert puppet["version_requirement"].startswith(">= 7.0.0")
    systems = {o["operatingsystem"] for o in metadata["operatingsystem_support"]}
    assert "Debian" in systems
    # the packaged stdlib satisfies the declared range
    stdlib = json.loads(Path("/usr/share/puppet/modules/stdlib/metadata.json").read_text())
    major = int(stdlib["version"].split(".")[0])
    assert 8 <= major < 10, stdlib["version"]


def test_hiera_data_parses() -> None:
    for path in [MODULE / "hiera.yaml", *MODULE.glob("data/**/*.yaml"), *MODULE.glob("examples/**/*.yaml")]:
        data = yaml.safe_load(path.read_text())
        assert isinstance(data, dict), path
    assert yaml.safe_load((MODULE / "hiera.yaml").read_text())["version"] == 5
    debian = yaml.safe_load((MODULE / "data/os/Debian.yaml").read_text())
    assert debian["pymco::facts::classesfile"] == "/var/cache/puppet/state/classes.txt"


def test_parser_validate() -> None:
    which_or_fail("puppet")
    proc = run(["puppet", "parser", "validate", *puppet_files("manifests", "types", "functions", "examples")])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_epp_validate() -> None:
    which_or_fail("puppet")
    templates = puppet_files("templates", suffix=".epp")
    assert len(templates) >= 6
    proc = run(["puppet", "epp", "validate", *templates])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_settings_template_renders_sorted_and_skips_undef(module_link: Path) -> None:
    """The one template both configs use, rendered by Puppet itself."""
    which_or_fail("puppet")
    values = ("{ description => 'test', settings => { 'zeta' => 1, 'alpha' => 'a', 'mid' => ['x', 'y'], "
              "'gone' => undef, 'flag' => true, 'secret' => Sensitive('s') } }")
    proc = run(["puppet", "epp", "render", "--modulepath", f"{module_link.parent}:/usr/share/puppet/modules", "--values", values,
                str(MODULE / "templates" / "settings.cfg.epp")])
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    assert lines == ["alpha = a", "flag = true", "mid = x,y", "secret = s", "zeta = 1"]


def test_puppet_lint_without_warnings(module_link: Path) -> None:
    which_or_fail("puppet-lint")
    targets = [str(module_link / d) for d in ("manifests", "types", "functions", "examples")]
    proc = run(["puppet-lint", "--fail-on-warnings", "--relative", *targets])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "", proc.stdout


def test_rspec_puppet_unit_tests() -> None:
    """`rake spec`: compiles catalogs for every class, define, function and type alias."""
    which_or_fail("rake")
    for gem in ("rspec-puppet", "puppetlabs_spec_helper/rake_tasks"):
        probe = run(["ruby", "-e", f"require '{gem}'"])
        assert probe.returncode == 0, f"ruby cannot load {gem} (install ruby-rspec-puppet, " \
                                      f"ruby-puppetlabs-spec-helper): {probe.stderr}"
    proc = run(["rake", "spec"], cwd=MODULE, timeout=600)
    summary = re.search(r"(\d+) examples?, (\d+) failures?", proc.stdout)
    assert proc.returncode == 0 and summary, proc.stdout[-6000:] + proc.stderr[-3000:]
    examples, failures = int(summary.group(1)), int(summary.group(2))
    assert failures == 0 and examples >= 100, summary.group(0)


def test_reference_md_is_generated_from_the_code(tmp_path: Path) -> None:
    """REFERENCE.md is what `puppet strings` makes of the current code (regenerate it when this fails)."""
    which_or_fail("puppet")
    out = tmp_path / "REFERENCE.md"
    proc = run(["puppet", "strings", "generate", "--format", "markdown", "--out", str(out),
                "manifests/**/*.pp", "functions/**/*.pp", "types/**/*.pp"], cwd=MODULE)
    assert proc.returncode == 0 and out.exists(), proc.stdout + proc.stderr
    assert "[warn]" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    fresh = out.read_text()
    assert "pymco::middleware::rabbitmq" in fresh and "Pymco::Broker" in fresh
    assert (MODULE / "REFERENCE.md").read_text() == fresh, \
        "REFERENCE.md is stale: cd puppet_module && puppet strings generate --format markdown"


def test_readme_code_parses(tmp_path: Path) -> None:
    """The module README's Puppet code (`puppet apply -e '...'`) and Hiera snippets are valid as written."""
    which_or_fail("puppet")
    readme = (MODULE / "README.md").read_text()
    manifests = re.findall(r"puppet apply -e '(.*?)'", readme, re.S)
    assert manifests, "the README shows no puppet apply -e"
    for index, code in enumerate(manifests):
        path = tmp_path / f"readme{index}.pp"
        path.write_text(code)
        proc = run(["puppet", "parser", "validate", str(path)])
        assert proc.returncode == 0, f"{code}\n{proc.stderr}"
    snippets = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    assert len(snippets) >= 2
    for snippet in snippets:
        data = yaml.safe_load(snippet)
        assert isinstance(data, dict) and all(key.startswith("pymco::") for key in data), snippet
    # every file the README links to exists
    for target in re.findall(r"\]\(([^)#:]+)\)", readme):
        assert (MODULE / target).exists(), target


def test_systemd_units_verify(tmp_path: Path, module_link: Path) -> None:
    """The unit and timer (used where systemd runs; this CI machine has none running) pass systemd-analyze."""
    analyze = which_or_fail("systemd-analyze")
    true = which_or_fail("true")
    renders = {
        "pymcod.service": ("pymcod.service.epp", f"{{ service => 'pymcod', daemon => '{true}', "
                                                 "config => '/etc/pymco/server.cfg', pidfile => '/run/pymcod.pid' }"),
        "pymco-facts.service": ("facts.service.epp", f"{{ command => '{true} facts refresh --output /tmp/f.yaml' }}"),
        "pymco-facts.timer": ("facts.timer.epp", "{ interval => 15, job_name => 'pymco-facts' }"),
    }
    for unit, (template, values) in renders.items():
        proc = run(["puppet", "epp", "render", "--modulepath", f"{module_link.parent}:/usr/share/puppet/modules",
                    "--values", values, str(MODULE / "templates" / template)])
        assert proc.returncode == 0, proc.stderr
        (tmp_path / unit).write_text(proc.stdout)
    proc = run([analyze, "verify", *(str(tmp_path / unit) for unit in renders)], cwd=tmp_path)
    complaints = [line for line in (proc.stdout + proc.stderr).splitlines() if str(tmp_path) in line]
    assert proc.returncode == 0 and not complaints, proc.stdout + proc.stderr
    assert f"ExecStart={true} --config /etc/pymco/server.cfg --no-daemonize" in (tmp_path / "pymcod.service").read_text()


def test_puppet_ssl_fact_finds_the_nodes_certificate(tmp_path: Path) -> None:
    """`pymco_puppet_ssl` (x509 by default) is set only when certificate, key and CA all exist."""
    which_or_fail("ruby")
    ssldir = tmp_path / "ssl"
    (ssldir / "certs").mkdir(parents=True)
    (ssldir / "private_keys").mkdir()
    script = ("require 'puppet'; require 'facter'; require 'json'\n"
              f"Puppet.initialize_settings(['--ssldir', '{ssldir}', '--certname', 'n1.example.com', "
              "'--ca_server', 'ca.example.com', '--ca_port', '8141'])\n"
              f"load '{MODULE / 'lib' / 'facter' / 'pymco_puppet_ssl.rb'}'\n"
              "puts JSON.generate(Facter.value(:pymco_puppet_ssl))\n")

    def fact() -> object:
        proc = run(["ruby", "-e", script])
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    (ssldir / "certs" / "ca.pem").write_text("ca")
    (ssldir / "certs" / "n1.example.com.pem").write_text("cert")
    assert fact() is None   # no private key yet
    (ssldir / "private_keys" / "n1.example.com.pem").write_text("key")
    assert fact() == {"ca": f"{ssldir}/certs/ca.pem", "cert": f"{ssldir}/certs/n1.example.com.pem",
                      "private_key": f"{ssldir}/private_keys/n1.example.com.pem", "ssldir": str(ssldir),
                      "certname": "n1.example.com", "ca_server": "ca.example.com:8141"}
