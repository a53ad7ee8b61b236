# @summary ActiveMQ as pymco's broker: one instance with STOMP (optionally TLS), users and per-collective authorization.
#
# Writes the `activemq.xml` that MCollective's and pymco's `activemq`
# connector need (the same broker `scripts/activemq-setup` starts for the
# tests): a STOMP transport connector, `simpleAuthenticationPlugin` users,
# read/write/admin on the topics `<collective>.>` and queues `<collective>.>`
# of every collective for `group`, non-persistent messages without producer
# flow control, and idle per-request reply queues removed after 5 minutes.
#
# The layout is Debian's: the instance's files in
# `<config_dir>/instances-available/<instance>`, enabled by a symlink in
# `<config_dir>/instances-enabled`, its data in `<base_dir>/<instance>`, and
# the package's init script `activemq` starting every enabled instance.  The
# broker restarts when a file of the instance changes.
#
# `ensure => absent` stops ActiveMQ and removes the instance (config, link,
# data) and, with `manage_package`, the package.
#
# @example A broker for two collectives, STOMP on every interface
#   class { 'pymco::middleware::activemq':
#     collectives => ['mcollective', 'dc_east'],
#     users       => { 'mcollective' => { 'password' => Sensitive('secret') } },
#   }
#
# @param ensure
#   `present` sets the instance up and runs it; `absent` stops it and removes it.
# @param manage_package
#   Whether to install (or, with `ensure => absent`, remove) ActiveMQ from the OS packages.
# @param package_name
#   The ActiveMQ package.
# @param manage_service
#   Whether to keep ActiveMQ running (and restart it when the instance's files change).
# @param service_name
#   The ActiveMQ service (Debian: the init script starting every enabled instance).
# @param service_provider
#   Puppet's provider for that service (unset: Puppet's default for the node).
# @param pidfile_dir
#   Where the init script keeps `<instance>.pid`; the service's status checks that PID.
# @param instance
#   The instance's name: its folders and its pidfile are named after it.
# @param config_dir
#   ActiveMQ's configuration folder, with `instances-available` and `instances-enabled`.
# @param base_dir
#   The folder of the instances' data folders (`ACTIVEMQ_BASE` is `<base_dir>/<instance>`).
# @param user
#   The system user the broker runs as (it reads the config and owns the data).
# @param java_home
#   The Java runtime.
# @param heap_size
#   The JVM heap (`-Xms` and `-Xmx`), e.g. `512m` or `2g`.
# @param broker_name
#   The broker's name (unique in a network of brokers).
# @param stomp_bind
#   The address STOMP listens on (`0.0.0.0`: every IPv4 interface).
# @param stomp_port
#   The plain STOMP port.
# @param stomp_plain
#   Whether plain STOMP listens; false leaves only the TLS connector.
# @param stomp_tls_port
#   A STOMP-over-TLS port (unset: no TLS connector).  Needs `keystore`,
#   `keystore_password`, `truststore` and `truststore_password`.
# @param tls_need_client_auth
#   Whether TLS clients must present a certificate the truststore trusts.
# @param keystore
#   The broker's keystore (its certificate and key), readable by `user`.
# @param keystore_password
#   The keystore's password.
# @param truststore
#   The truststore with the CA of the clients' certificates.
# @param truststore_password
#   The truststore's password.
# @param users
#   Broker users: their password and groups (default: `[group]`).
# @param group
#   The group given read, write and admin on every collective's topics and
#   queues and on ActiveMQ's advisory topics.
# @param collectives
#   The collectives whose topics and queues `group` may use.
class pymco::middleware::activemq (
  Enum['present', 'absent'] $ensure = 'present',
  Boolean $manage_package = true,
  String[1] $package_name = 'activemq',
  Boolean $manage_service = true,
  String[1] $service_name = 'activemq',
  Optional[String[1]] $service_provider = undef,
  Stdlib::Absolutepath $pidfile_dir = '/var/run/activemq',
  Pattern[/\A[A-Za-z0-9_-]+\z/] $instance = 'main',
  Stdlib::Absolutepath $config_dir = '/etc/activemq',
  Stdlib::Absolutepath $base_dir = '/var/lib/activemq',
  String[1] $user = 'activemq',
  Stdlib::Absolutepath $java_home = '/usr/lib/jvm/default-java',
  Pattern[/\A[1-9][0-9]*[mg]\z/] $heap_size = '512m',
  String[1] $broker_name = $facts['networking']['fqdn'],
  Stdlib::IP::Address::Nosubnet $stomp_bind = '0.0.0.0',
  Stdlib::Port $stomp_port = 61613,
  Boolean $stomp_plain = true,
  Optional[Stdlib::Port] $stomp_tls_port = undef,
  Boolean $tls_need_client_auth = false,
  Optional[Stdlib::Absolutepath] $keystore = undef,
  Optional[Pymco::Secret] $keystore_password = undef,
  Optional[Stdlib::Absolutepath] $truststore = undef,
  Optional[Pymco::Secret] $truststore_password = undef,
  Hash[Pattern[/\A[A-Za-z0-9_.@-]+\z/], Struct[{
        password         => Pymco::Secret,
        Optional[groups] => Array[Pattern[/\A[A-Za-z0-9_.-]+\z/], 1],
  }]] $users = {},
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $group = 'mcollective',
  Array[Pymco::Collective, 1] $collectives = ['mcollective'],
) {
  $present = $ensure == 'present'
  if $present {
    if empty($users) {
      fail('pymco::middleware::activemq: give at least one broker user in users ({ name => { password => ... } })')
    }
    pymco::check_stomp_listeners('pymco::middleware::activemq', $stomp_plain, $stomp_port, $stomp_tls_port, {
        'keystore'            => $keystore,
        'keystore_password'   => $keystore_password,
        'truststore'          => $truststore,
        'truststore_password' => $truststore_password,
    })
  }

  $instance_dir = "${config_dir}/instances-available/${instance}"
  $enabled_link = "${config_dir}/instances-enabled/${instance}"
  $activemq_base = "${base_dir}/${instance}"
  $pidfile = "${pidfile_dir}/${instance}.pid"
  # Debian's init script says `running` for any state, and its `restart`
  # may find the old JVM still exiting and then start nothing.  So Puppet asks
  # whether the PID in the instance's pidfile is a JVM of this instance, stops
  # that JVM alone and waits until it is gone, and starts with the init script.
  $status = [
    'sh -c \'p=$(cat "$0" 2>/dev/null) && grep -qzxF -- "$1" "/proc/$p/cmdline"\'',
    shell_escape($pidfile),
    shell_escape("-Dactivemq.base=${activemq_base}"),
  ].join(' ')
  $stop = "${shell_join(['start-stop-daemon', '--stop', '--quiet', '--oknodo', '--pidfile', $pidfile, '--user', $user,
  '--name', 'java', '--retry', 'TERM/60/KILL/5'])} && rm -f ${shell_escape($pidfile)}"
  $init_commands = $service_provider ? {
    'systemd' => {},
    default   => {
      'status'  => $status,
      'stop'    => $stop,
      'restart' => "${stop} && ${shell_escape("/etc/init.d/${service_name}")} start",
    },
  }

  if $present {
    if $manage_package {
      package { $package_name:
        ensure => installed,
        before => File[$instance_dir, $activemq_base],
      }
    }

    $hb = 'transport.hbGracePeriodMultiplier=1.5'
    $plain = $stomp_plain ? {
      true    => [{ 'name' => 'stomp', 'uri' => "stomp://${stomp_bind}:${stomp_port}?${hb}" }],
      default => [],
    }
    $tls_connector = $stomp_tls_port ? {
      undef   => [],
      default => [{
          'name' => 'stomp+ssl',
          'uri'  => "stomp+ssl://${stomp_bind}:${stomp_tls_port}?needClientAuth=${tls_need_client_auth}&${hb}",
      }],
    }
    $ssl_context = $stomp_tls_port ? {
      undef   => undef,
      default => {
        'keystore'            => $keystore,
        'keystore_password'   => $keystore_password.unwrap,
        'truststore'          => $truststore,
        'truststore_password' => $truststore_password.unwrap,
      },
    }
    $broker_users = $users.map |$name, $u| {
      [$name, { 'password' => $u['password'].unwrap, 'groups' => pick($u['groups'], [$group]) }]
    }.convert_to(Hash)
    $xml = epp('pymco/activemq.xml.epp', {
        'broker_name' => $broker_name,
        'connectors'  => $plain + $tls_connector,
        'users'       => $broker_users,
        'group'       => $group,
        'collectives' => $collectives,
        'ssl_context' => $ssl_context,
    })
    # Read by the init script and by /usr/bin/activemq in place of
    # /usr/share/activemq/activemq-options, so it repeats what that file sets.
    $options = [
      '# Managed by Puppet (pymco::middleware::activemq)',
      'STARTTIME=5',
      "ACTIVEMQ_BASE=\"${activemq_base}\"",
      "JAVA_HOME=\"${java_home}\"",
      "ACTIVEMQ_OPTS=\"-Xms${heap_size} -Xmx${heap_size} -Dorg.apache.activemq.UseDedicatedTaskRunner=true\"",
      'ACTIVEMQ_ARGS="start xbean:activemq.xml"',
      'ACTIVEMQ_OUT="/dev/null"',
    ]

    file { $instance_dir:
      ensure => directory,
      owner  => 'root',
      group  => $user,
      mode   => '0750',
    }
    file {
      default:
        ensure => file,
        owner  => 'root',
        group  => $user,
        mode   => '0640';
      "${instance_dir}/activemq.xml":
        content => Sensitive($xml);
      "${instance_dir}/options":
        content => "${options.join("\n")}\n";
    }
    file { $enabled_link:
      ensure => link,
      target => $instance_dir,
    }
    file { [$activemq_base, "${activemq_base}/data"]:
      ensure => directory,
      owner  => $user,
      group  => $user,
      mode   => '0750',
    }

    if $manage_service {
      service { $service_name:
        ensure    => running,
        enable    => true,
        provider  => $service_provider,
        *         => $init_commands,
        subscribe => File["${instance_dir}/activemq.xml", "${instance_dir}/options", $enabled_link],
      }
    }
  } else {
    if $manage_service {
      service { $service_name:
        ensure   => stopped,
        provider => $service_provider,
        *        => $init_commands,
        before   => File[$enabled_link, $instance_dir, $activemq_base, $pidfile],
      }
    }
    file { $enabled_link:
      ensure => absent,
    }
    file { [$instance_dir, $activemq_base]:
      ensure => absent,
      force  => true,
      backup => false,
    }
    file { $pidfile:
      ensure => absent,
    }
    if $manage_package {
      package { $package_name:
        ensure  => absent,
        require => File[$enabled_link, $instance_dir, $activemq_base],
      }
    }
  }
}
