# @summary The mco client: client.cfg for the node, and optional per-user `~/.pymco` files.
#
# client.cfg carries the broker password and the psk, so it is readable only
# by `owner` and `group` (give operators a group, or per-user files through
# `users`).  `mco` reads `~/.pymco` first, then client.cfg.
#
# @example Operators in group `mcoadmins`, and alice with her own file
#   class { 'pymco::client':
#     group => 'mcoadmins',
#     users => { 'alice' => { 'settings' => { 'loglevel' => 'info' } } },
#   }
#
# @param config_file
#   The client config (unset: `<pymco::confdir>/client.cfg`).
# @param log_level
#   The client's log level (it logs to the console).
# @param settings
#   Extra or overriding client.cfg settings (`key => undef` drops a default).
# @param plugin_settings
#   Plugin settings, one hash per plugin, as for `pymco::server`.
# @param owner
#   Owner of client.cfg.
# @param group
#   Group of client.cfg: the users who may run mco with it.
# @param mode
#   Mode of client.cfg.
# @param users
#   `pymco::client::user` resources to declare, by user name.
class pymco::client (
  Optional[Stdlib::Absolutepath] $config_file = undef,
  Pymco::Loglevel $log_level = 'warn',
  Pymco::Settings $settings = {},
  Pymco::Plugin_settings $plugin_settings = {},
  String[1] $owner = 'root',
  String[1] $group = 'root',
  Stdlib::Filemode $mode = '0640',
  Hash[String[1], Hash] $users = {},
) {
  include pymco
  include pymco::install

  $config_path = pick($config_file, "${pymco::confdir}/client.cfg")
  $client_settings = $pymco::shared_settings + {
    'logger_type' => 'console',
    'loglevel'    => $log_level,
  } + pymco::plugin_settings($plugin_settings) + $settings

  if $pymco::ensure == 'present' {
    Class['pymco::install'] -> Class['pymco::client']
    file { $config_path:
      ensure  => file,
      owner   => $owner,
      group   => $group,
      mode    => $mode,
      content => Sensitive(epp('pymco/settings.cfg.epp', {
            'description' => 'mco client configuration',
            'settings'    => $client_settings,
      })),
    }
  } else {
    Class['pymco::client'] -> Class['pymco::install']
    unless pymco::inside($config_path, $pymco::confdir) {
      file { $config_path:
        ensure => absent,
        backup => false,
      }
    }
  }

  $users.each |String $user, Hash $params| {
    pymco::client::user { $user:
      * => $params,
    }
  }
}
