# @summary The pymcod daemon: server.cfg, extra plugins, facts, and the service.
#
# Declared by `pymco` when `pymco::server` is true (the default); tune it through
# Hiera (`pymco::server::plugin_settings`, ...).  server.cfg is rendered from one
# settings hash, sorted by key: the shared settings of `pymco`, this class's
# own (identity, logging, facts), `plugin_settings`, then `settings`, later ones
# winning.  A changed config, a new pymco or a new plugin restarts the daemon.
#
# @example Masterless Puppet runs on demand (`mco puppet runonce`)
#   pymco::server::plugin_settings:
#     puppet:
#       command: puppet apply /etc/puppet/code/environments/production/manifests
#
# @param identity
#   The node's identity in the collective.  Unset: with `x509` from the node's
#   Puppet certificate, its certname (clients accept a reply only from the
#   certificate named like its sender, and a node's certname need not be its
#   FQDN); otherwise the `networking.fqdn` fact.
# @param config_file
#   The daemon's config file (unset: `<pymco::confdir>/server.cfg`).  Mode 0600: it holds the keys.
# @param logfile
#   pymcod's log file; its folder is created unless it is a system folder such as /var/log.
# @param log_level
#   pymcod's log level.
# @param settings
#   Extra or overriding server.cfg settings (`key => value`; `key => undef` drops a default).
# @param plugin_settings
#   Plugin settings, one hash per plugin (`{ 'puppet' => { 'splay' => false } }` gives `plugin.puppet.splay = false`).
# @param plugins
#   `pymco::plugin` resources to declare, by name.
# @param manage_facts
#   Whether `pymco::facts` writes the facts file from Facter (and server.cfg reads it as `factsource = yaml`).
# @param service_name
#   The service (and unit or init script) name.
# @param service_ensure
#   Whether the daemon runs.
# @param service_enable
#   Whether the daemon starts at boot.
# @param service_manager
#   `systemd` (a unit in `unit_dir`) or `init` (an LSB init script in /etc/init.d).
#   Unset: `systemd` when it is the running init (the `service_provider` fact), else `init`.
# @param init_provider
#   Puppet's service provider for the init script (module data: `debian` on Debian, `redhat` on Red Hat).
# @param pidfile
#   Where the init script keeps pymcod's PID.
# @param unit_dir
#   Where the systemd unit goes.
# @param state_dir
#   The daemon's own state (mode 0700): with the `x509` provider, the journal of
#   served request ids (`plugin.x509.replay_cache`) that keeps replays refused
#   across restarts.  Removed with `ensure => absent`.
class pymco::server (
  Optional[Pymco::Identity] $identity = undef,
  Optional[Stdlib::Absolutepath] $config_file = undef,
  Stdlib::Absolutepath $logfile = '/var/log/pymco/pymcod.log',
  Pymco::Loglevel $log_level = 'info',
  Pymco::Settings $settings = {},
  Pymco::Plugin_settings $plugin_settings = {},
  Hash[Pattern[/\A[a-z][a-z0-9_]*\z/], Hash] $plugins = {},
  Boolean $manage_facts = true,
  Pattern[/\A[A-Za-z0-9_.@-]+\z/] $service_name = 'pymcod',
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
  Optional[Pymco::Service_manager] $service_manager = undef,
  String[1] $init_provider = 'init',
  Stdlib::Absolutepath $pidfile = '/run/pymcod.pid',
  Stdlib::Absolutepath $unit_dir = '/etc/systemd/system',
  Stdlib::Absolutepath $state_dir = '/var/lib/pymco',
) {
  include pymco
  include pymco::install

  $certname = $pymco::provider ? {
    'x509'  => dig($pymco::puppet_ssl, 'certname'),
    default => undef,
  }
  $node_identity = pick($identity, $certname, $facts['networking']['fqdn'])
  $config_path = pick($config_file, "${pymco::confdir}/server.cfg")
  $manager = pick($service_manager, $facts['service_provider'] ? {
      'systemd' => 'systemd',
      default   => 'init',
  })

  if $manage_facts {
    contain pymco::facts
  }
  contain pymco::server::config
  contain pymco::server::service

  $plugins.each |String $plugin, Hash $params| {
    pymco::plugin { $plugin:
      * => $params,
    }
  }

  if $pymco::ensure == 'present' {
    Class['pymco::install'] -> Class['pymco::server']
    Class['pymco::server::config'] ~> Class['pymco::server::service']
    Class['pymco::install'] ~> Class['pymco::server::service']
    if $manage_facts {
      Class['pymco::facts'] -> Class['pymco::server::service']
    }
  } else {
    # Stop and unconfigure before the virtualenv and the folders go.
    Class['pymco::server'] -> Class['pymco::install']
    Class['pymco::server::service'] -> Class['pymco::server::config']
    if $manage_facts {
      Class['pymco::server::service'] -> Class['pymco::facts']
    }
  }
}
