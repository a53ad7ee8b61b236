# @summary Installs pymco from its Debian package or with pip into a virtualenv, and makes its folders (or removes them all).
#
# `install_method => 'package'` (the default) installs the `pymco` Debian
# package that `scripts/build` makes: from the node's apt repositories (a local
# repository serving the .deb), or from a .deb file on the node
# (`package_source`).  The package carries pymco and its dependencies in a
# virtualenv under /opt/pymco.  Removal purges it.
#
# `install_method => 'pip'` installs with pip into `venv`, a virtualenv that
# keeps pymco and its dependencies away from the OS Python (Debian marks it
# externally managed, PEP 668).  pymco is not on PyPI, so `package_source` (a
# checkout, a wheel, an sdist or a URL of one) is required; with
# `pip_options => ['--no-index', '--find-links', '/srv/wheelhouse']` it comes
# from a wheelhouse.  The install is skipped when the virtualenv already holds
# pymco from the same source (pip's `direct_url.json`) at the pinned version,
# so a converged node runs no pip at all.
#
# @api private
class pymco::install {
  assert_private()

  $venv = $pymco::venv
  if $pymco::install_method == 'package' {
    if $venv != '/opt/pymco' {
      fail("pymco: the pymco package installs into /opt/pymco, not ${venv} (set pymco::venv only with install_method 'pip')")
    }
    if $pymco::package_source =~ Stdlib::HTTPUrl {
      fail(@(MSG/L))
        pymco: apt installs a .deb from a file on the node or from an apt repository, not from a URL: \
        serve it from a repository, or copy it to the node and give its path as pymco::package_source
        | MSG
    }
    $package_ensure = $pymco::ensure ? {
      'present' => pick($pymco::package_version, 'installed'),
      default   => 'purged',
    }
    package { $pymco::package_name:
      ensure      => $package_ensure,
      provider    => 'apt',
      source      => $pymco::package_source,
      # server.cfg and client.cfg are Puppet's: the package's samples never replace them
      configfiles => 'keep',
    }
  } elsif $pymco::ensure == 'present' and $pymco::package_source == undef {
    fail(@(MSG/L))
      pymco: pymco is not on PyPI: with install_method 'pip', set pymco::package_source (a checkout, wheel, sdist \
      or its URL; for a wheelhouse add pip_options ['--no-index', '--find-links', DIR] and package_source the pymco wheel in it)
      | MSG
  }

  if $pymco::ensure == 'present' {
    $dirs_after = $pymco::install_method ? {
      'package' => Package[$pymco::package_name],
      default   => undef,
    }
    file { [$pymco::confdir, $pymco::libdir, "${pymco::libdir}/agents", "${pymco::libdir}/ddl"]:
      ensure  => directory,
      owner   => 'root',
      group   => 'root',
      mode    => '0755',
      require => $dirs_after,
    }
  } else {
    file { [$pymco::confdir, $pymco::libdir]:
      ensure  => absent,
      force   => true,
      recurse => false,
      backup  => false,
    }
  }
  if $pymco::install_method == 'pip' and $pymco::ensure == 'present' {
    if !empty($pymco::python_packages) {
      ensure_packages($pymco::python_packages, { 'before' => Exec['pymco-virtualenv'] })
    }
    exec { 'pymco-virtualenv':
      command => shell_join([$pymco::python, '-m', 'venv', $venv]),
      creates => "${venv}/bin/pip",
      path    => ['/usr/bin', '/bin'],
    }

    # pip records where a package came from in direct_url.json: a path source
    # as file://<path>, a URL as itself.
    $want_url = $pymco::package_source ? {
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
        + $pymco::pip_options + [$pymco::package_source]),
      unless      => shell_join(["${venv}/bin/python", '-c', $check]),
      environment => ['PIP_NO_INPUT=1'],
      timeout     => 900,
      logoutput   => 'on_failure',
      require     => Exec['pymco-virtualenv'],
    }
  } elsif $pymco::install_method == 'pip' {
    file { $venv:
      ensure  => absent,
      force   => true,
      recurse => false,
      backup  => false,
    }
  }
}
