# @summary Runs pymcod as a service: a systemd unit where systemd runs, an LSB init script elsewhere.
#
# Without systemd (containers, minimal hosts) Puppet's `debian`/`redhat`
# providers drive the init script, whose `status` checks that the PID in the
# pidfile is a pymcod using this config, so a reused PID is not mistaken for it.
#
# @api private
class pymco::server::service {
  assert_private()

  $service = $pymco::server::service_name
  $daemon = "${pymco::venv}/bin/pymcod"
  $template_params = {
    'service'     => $service,
    'daemon'      => $daemon,
    'config'      => $pymco::server::config_path,
    'pidfile'     => $pymco::server::pidfile,
  }

  if $pymco::server::manager == 'systemd' {
    $unit = "${pymco::server::unit_dir}/${service}.service"
    exec { "pymco-${service}-daemon-reload":
      command     => 'systemctl daemon-reload',
      path        => ['/usr/bin', '/bin'],
      refreshonly => true,
    }
    if $pymco::ensure == 'present' {
      file { $unit:
        ensure  => file,
        owner   => 'root',
        group   => 'root',
        mode    => '0644',
        content => epp('pymco/pymcod.service.epp', $template_params),
        notify  => [Exec["pymco-${service}-daemon-reload"], Service[$service]],
      }
      service { $service:
        ensure   => $pymco::server::service_ensure,
        enable   => $pymco::server::service_enable,
        provider => 'systemd',
        require  => Exec["pymco-${service}-daemon-reload"],
      }
    } else {
      service { $service:
        ensure   => stopped,
        enable   => false,
        provider => 'systemd',
      }
      -> file { $unit:
        ensure => absent,
        notify => Exec["pymco-${service}-daemon-reload"],
      }
    }
  } else {
    $script = "/etc/init.d/${service}"
    if $pymco::ensure == 'present' {
      file { $script:
        ensure  => file,
        owner   => 'root',
        group   => 'root',
        mode    => '0755',
        content => epp('pymco/pymcod.init.epp', $template_params),
      }
      ~> service { $service:
        ensure     => $pymco::server::service_ensure,
        enable     => $pymco::server::service_enable,
        provider   => $pymco::server::init_provider,
        hasstatus  => true,
        hasrestart => true,
        status     => "${script} status",
      }
    } else {
      service { $service:
        ensure    => stopped,
        provider  => $pymco::server::init_provider,
        hasstatus => true,
        status    => "${script} status",
      }
      -> exec { "pymco-${service}-remove-rc-links":
        command => "update-rc.d -f ${service} remove",
        onlyif  => "sh -c 'ls /etc/rc?.d/[SK][0-9][0-9]${service} >/dev/null 2>&1'",
        path    => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
      }
      -> file { $script:
        ensure => absent,
        backup => false,
      }
    }
  }
}
