# @summary Writes server.cfg (mode 0600) from the merged settings hash.
#
# @api private
class pymco::server::config {
  assert_private()

  $config = $pymco::server::config_path
  if $pymco::ensure == 'present' {
    $facts_settings = $pymco::server::manage_facts ? {
      true    => {
        'factsource'  => 'yaml',
        'plugin.yaml' => pick($pymco::facts::facts_file, "${pymco::confdir}/facts.yaml"),
        'classesfile' => $pymco::facts::classesfile,
      },
      default => {},
    }
    $state_settings = $pymco::provider ? {
      'x509'  => { 'plugin.x509.replay_cache' => "${pymco::server::state_dir}/x509_replay.journal" },
      default => {},
    }
    $settings = $pymco::shared_settings + {
      'identity'    => $pymco::server::node_identity,
      'logger_type' => 'file',
      'logfile'     => $pymco::server::logfile,
      'loglevel'    => $pymco::server::log_level,
    } + $facts_settings + $state_settings + pymco::plugin_settings($pymco::server::plugin_settings) + $pymco::server::settings

    $logdir = dirname($pymco::server::logfile)
    unless $logdir in ['/', '/var/log', '/tmp', '/var/tmp'] {
      file { $logdir:
        ensure => directory,
        owner  => 'root',
        group  => 'root',
        mode   => '0750',
        before => File[$config],
      }
    }
    file { $pymco::server::state_dir:
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0700',
      before => File[$config],
    }
    file { $config:
      ensure    => file,
      owner     => 'root',
      group     => 'root',
      mode      => '0600',
      show_diff => false,
      content   => Sensitive(epp('pymco/settings.cfg.epp', {
            'description' => "pymcod configuration for ${pymco::server::node_identity}",
            'settings'    => $settings,
      })),
    }
  } else {
    file { $pymco::server::state_dir:
      ensure  => absent,
      force   => true,
      recurse => true,
      backup  => false,
    }
    unless pymco::inside($config, $pymco::confdir) {
      file { $config:
        ensure => absent,
        backup => false,
      }
    }
  }
}
