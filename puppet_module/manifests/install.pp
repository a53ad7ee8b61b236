# @summary Installs pymco with pip into its own virtualenv and makes its folders (or removes them all).
#
# A virtualenv keeps pymco and its dependencies (stomp.py, PyYAML, jinja2,
# ruamel.yaml) away from the OS Python, which Debian marks externally managed
# (PEP 668).  The install is skipped when the virtualenv already holds pymco
# from the same source (pip's `direct_url.json`) at the pinned version, so a
# converged node runs no pip at all.
#
# @api private
class pymco::install {
  assert_private()

  $venv = $pymco::venv
  if $pymco::ensure == 'present' {
    if !empty($pymco::python_packages) {
      ensure_packages($pymco::python_packages, { 'before' => Exec['pymco-virtualenv'] })
    }
    file { [$pymco::confdir, $pymco::libdir, "${pymco::libdir}/agents", "${pymco::libdir}/ddl"]:
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0755',
    }
    exec { 'pymco-virtualenv':
      command => shell_join([$pymco::python, '-m', 'venv', $venv]),
      creates => "${venv}/bin/pip",
      path    => ['/usr/bin', '/bin'],
    }

    $spec = $pymco::package_source ? {
      undef   => $pymco::package_version ? {
        undef   => 'pymco',
        default => "pymco==${pymco::package_version}",
      },
      default => $pymco::package_source,
    }
    # pip records where a package came from in direct_url.json: a path source
    # as file://<path>, a URL as itself, PyPI not at all.
    $want_url = $pymco::package_source ? {
      undef                => '',
      Stdlib::Absolutepath => "file://${pymco::package_source}",
      default              => $pymco::package_source,
    }
    $want_version = pick_default($pymco::package_version, '')
    $check = [
      'import importlib.metadata as m, json, sys',
      "d = m.distribution('pymco')",
      "url = json.loads(d.read_text('direct_url.json') or '{}').get('url', '')",
      "sys.exit(('${want_version}' != '' and d.version != '${want_version}') or url.rstrip('/') != '${want_url}'.rstrip('/'))",
    ].join('; ')

    exec { 'pymco-install':
      command     => shell_join(["${venv}/bin/pip", 'install', '--quiet', '--disable-pip-version-check']
        + $pymco::pip_options + [$spec]),
      unless      => shell_join(["${venv}/bin/python", '-c', $check]),
      environment => ['PIP_NO_INPUT=1'],
      timeout     => 900,
      logoutput   => 'on_failure',
      require     => Exec['pymco-virtualenv'],
    }
  } else {
    file { [$venv, $pymco::confdir, $pymco::libdir]:
      ensure  => absent,
      force   => true,
      recurse => false,
      backup  => false,
    }
  }
}
