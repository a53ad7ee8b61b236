# @summary A user's own mco config, `~/.pymco` (mode 0600), from the client settings plus the user's own.
#
# Needs `pymco::client` in the catalog (declare `pymco` with `client => true`).
#
# @example
#   pymco::client::user { 'alice':
#     settings => { 'plugin.psk.callertype' => 'identity' },
#   }
#
# @param ensure
#   Whether the file exists (it is removed too when `pymco::ensure` is absent).
# @param user
#   The user who owns the file.
# @param group
#   The file's group (unset: the same name as the user).
# @param home
#   The user's home folder (unset: /root for root, else /home/<user>).
# @param settings
#   Settings on top of the client's (`key => undef` drops one).
define pymco::client::user (
  Enum['present', 'absent'] $ensure = 'present',
  String[1] $user = $title,
  Optional[String[1]] $group = undef,
  Optional[Stdlib::Absolutepath] $home = undef,
  Pymco::Settings $settings = {},
) {
  unless defined(Class['pymco::client']) {
    fail("pymco::client::user[${title}]: declare pymco::client first (pymco with client => true)")
  }
  $path = "${pick($home, $user ? { 'root' => '/root', default => "/home/${user}" })}/.pymco"
  $present = $ensure == 'present' and $pymco::ensure == 'present'
  if $present {
    file { $path:
      ensure  => file,
      owner   => $user,
      group   => pick($group, $user),
      mode    => '0600',
      content => Sensitive(epp('pymco/settings.cfg.epp', {
            'description' => "mco client configuration of ${user}",
            'settings'    => $pymco::client::client_settings + $settings,
      })),
    }
  } else {
    file { $path:
      ensure => absent,
      backup => false,
    }
  }
}
