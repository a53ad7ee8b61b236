# @summary RabbitMQ as pymco's broker: STOMP (optionally TLS), vhost, users, permissions, exchanges per collective.
#
# Every collective gets its two topic exchanges, `<collective>_broadcast` and `<collective>_directed`.
#
# Core resources only: RabbitMQ from the OS packages, the STOMP listener as a
# drop-in in RabbitMQ's `conf.d` (the main rabbitmq.conf stays the operator's;
# `scripts/broker-setup` writes the same file with the same content), and
# `rabbitmqctl` calls in `exec`s, each guarded by a check so a converged
# broker sees no change and no restart.  See the module README for why this
# does not use the puppetlabs-rabbitmq module.
#
# `ensure => absent` removes what pymco needs inside the broker (the vhost
# with its exchanges, and the users); the package, the service and the STOMP
# listener stay, since other applications may use the same broker.
#
# @example The second member of a three-member cluster (the same on the third; the first has no cluster_join)
#   class { 'pymco::middleware::rabbitmq':
#     users         => { 'mcollective' => Sensitive('secret') },
#     stomp_address => $facts['networking']['ip'],
#     erlang_cookie => Sensitive('a long random string, the same on every member'),
#     cluster_join  => 'rabbit@mq1',
#     nofile        => 65536,
#   }
#
# @example A broker for two collectives, STOMP on every interface
#   class { 'pymco::middleware::rabbitmq':
#     collectives => ['mcollective', 'dc_east'],
#     users       => { 'mcollective' => Sensitive('secret') },
#   }
#
# @param ensure
#   `present` sets everything up; `absent` removes the vhost and the users.
# @param manage_package
#   Whether to install RabbitMQ from the OS packages.
# @param package_name
#   The RabbitMQ package.
# @param manage_service
#   Whether to keep RabbitMQ running (and restart it when the STOMP listener or plugin changes).
# @param service_name
#   The RabbitMQ service.
# @param config_dir
#   RabbitMQ's configuration folder.
# @param stomp_config_name
#   The drop-in file in `<config_dir>/conf.d` holding the STOMP listeners.
# @param stomp_address
#   The IPv4 address STOMP listens on (unset: every interface).
# @param stomp_port
#   The plain STOMP port.
# @param stomp_tls_port
#   A STOMP-over-TLS port (unset: no TLS listener).  Needs `tls_ca`, `tls_cert` and `tls_key`.
# @param stomp_plain
#   Whether plain STOMP listens too; false leaves only the TLS listener
#   (`stomp.listeners.tcp = none`, as `scripts/broker-setup --tls-only`).
# @param tls_ca
#   The CA that signed the broker's certificate (and the clients', when they present one).
# @param tls_cert
#   The broker's certificate.
# @param tls_key
#   The broker's private key (readable by the rabbitmq user).
# @param vhost
#   The vhost pymco uses (`pymco::rabbitmq_vhost` on the nodes).
# @param users
#   Broker users and their passwords; each gets full permissions on `vhost`.
# @param collectives
#   The collectives to create exchanges for: `<collective>_broadcast` and `<collective>_directed`.
# @param reply_exchange
#   Whether to create the `mcollective_reply` exchange too (for `plugin.rabbitmq.use_reply_exchange`).
# @param erlang_cookie
#   The Erlang cookie shared by the members of a cluster (unset: RabbitMQ's own, a lone broker).
#   Setting or changing it restarts RabbitMQ.
# @param cookie_file
#   Where RabbitMQ reads its Erlang cookie.
# @param cluster_join
#   A member of the cluster this broker joins (`rabbit@mq1`); unset on the first member.
#   The join (`stop_app`, `join_cluster`, `start_app`) runs once, when the node is not in that cluster yet.
# @param cluster_partition_handling
#   What a member does when it loses the others (`cluster_partition_handling`): `pause_minority`
#   stops a member that sees less than half the cluster (three or more members; see docs/brokers.md).
# @param net_ticktime
#   Seconds after which a silent member is declared down.  Erlang's 60 stalls every queue
#   declaration in the cluster that long when a member freezes; 10 bounds it to 10 to 12.5 s.
# @param nofile
#   The open-files limit of the RabbitMQ service (a systemd drop-in; one descriptor per STOMP
#   connection).  Unset: the service's own.
# @param rabbitmqctl
#   The rabbitmqctl command.
# @param rabbitmq_plugins
#   The rabbitmq-plugins command.
class pymco::middleware::rabbitmq (
  Enum['present', 'absent'] $ensure = 'present',
  Boolean $manage_package = true,
  String[1] $package_name = 'rabbitmq-server',
  Boolean $manage_service = true,
  String[1] $service_name = 'rabbitmq-server',
  Stdlib::Absolutepath $config_dir = '/etc/rabbitmq',
  Pattern[/\A[A-Za-z0-9_.-]+\.conf\z/] $stomp_config_name = '50-pymco.conf',
  Optional[Stdlib::IP::Address::V4::Nosubnet] $stomp_address = undef,
  Stdlib::Port $stomp_port = 61613,
  Optional[Stdlib::Port] $stomp_tls_port = undef,
  Boolean $stomp_plain = true,
  Optional[Stdlib::Absolutepath] $tls_ca = undef,
  Optional[Stdlib::Absolutepath] $tls_cert = undef,
  Optional[Stdlib::Absolutepath] $tls_key = undef,
  Pattern[/\A\/?[A-Za-z0-9_.-]+\z/] $vhost = '/mcollective',
  Hash[Pattern[/\A[A-Za-z0-9_.@-]+\z/], Pymco::Secret] $users = {},
  Array[Pymco::Collective, 1] $collectives = ['mcollective'],
  Boolean $reply_exchange = true,
  Optional[Pymco::Secret] $erlang_cookie = undef,
  Stdlib::Absolutepath $cookie_file = '/var/lib/rabbitmq/.erlang.cookie',
  Optional[Pattern[/\A[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+\z/]] $cluster_join = undef,
  Enum['pause_minority', 'autoheal', 'ignore'] $cluster_partition_handling = 'pause_minority',
  Integer[1] $net_ticktime = 10,
  Optional[Integer[1024]] $nofile = undef,
  Stdlib::Absolutepath $rabbitmqctl = '/usr/sbin/rabbitmqctl',
  Stdlib::Absolutepath $rabbitmq_plugins = '/usr/sbin/rabbitmq-plugins',
) {
  $present = $ensure == 'present'
  if $present {
    if empty($users) {
      fail('pymco::middleware::rabbitmq: give at least one broker user in users ({ name => password })')
    }
    pymco::check_stomp_listeners('pymco::middleware::rabbitmq', $stomp_plain, $stomp_port, $stomp_tls_port, {
        'tls_ca'   => $tls_ca,
        'tls_cert' => $tls_cert,
        'tls_key'  => $tls_key,
    })
  }
  $ctl = shell_escape($rabbitmqctl)
  Exec {
    path      => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
    logoutput => 'on_failure',
  }

  if $manage_package {
    package { $package_name:
      ensure => installed,
      before => File["${config_dir}/conf.d"],
    }
  }

  # The listener: kept on removal, as other users of the broker may need it.
  $address = $stomp_address ? {
    undef   => '',
    default => "${stomp_address}:",
  }
  $tls_lines = $stomp_tls_port ? {
    undef   => [],
    default => [
      "stomp.listeners.ssl.1 = ${address}${stomp_tls_port}",
      "ssl_options.cacertfile = ${tls_ca}",
      "ssl_options.certfile = ${tls_cert}",
      "ssl_options.keyfile = ${tls_key}",
      'ssl_options.verify = verify_peer',
      'ssl_options.fail_if_no_peer_cert = false',
    ],
  }
  $plain_line = $stomp_plain ? {
    true    => "stomp.listeners.tcp.1 = ${address}${stomp_port}",
    default => 'stomp.listeners.tcp = none',
  }
  $stomp_lines = ['# Managed by pymco (scripts/broker-setup or the pymco Puppet module)', $plain_line] + $tls_lines
  file { "${config_dir}/conf.d":
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }
  file { "${config_dir}/conf.d/${stomp_config_name}":
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => "${stomp_lines.join("\n")}\n",
  }
  exec { 'pymco-rabbitmq-stomp-plugin':
    command => "${shell_escape($rabbitmq_plugins)} --offline enable rabbitmq_stomp",
    unless  => "grep -qw rabbitmq_stomp ${shell_escape("${config_dir}/enabled_plugins")}",
    require => File["${config_dir}/conf.d"],
  }

  if $manage_service {
    service { $service_name:
      ensure    => running,
      enable    => true,
      subscribe => [File["${config_dir}/conf.d/${stomp_config_name}"], Exec['pymco-rabbitmq-stomp-plugin']],
    }
    # Only after a (re)start: the node takes a few seconds to accept CLI calls.
    ~> exec { 'pymco-rabbitmq-ready':
      command     => "${ctl} -q await_startup --timeout 10",
      refreshonly => true,
      tries       => 12,
      try_sleep   => 2,
      before      => Exec['pymco-rabbitmq-vhost'],
    }
  }

  # ==== cluster members: cookie, join, partition handling, descriptors (scripts/broker-setup's cluster_*) ====
  $clustered = $erlang_cookie != undef or $cluster_join != undef
  if $clustered and $present {
    file { "${config_dir}/conf.d/40-pymco-cluster.conf":
      ensure  => file,
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
      content => @("CONF"),
        # Managed by pymco (scripts/broker-setup): a member of a RabbitMQ cluster
        cluster_partition_handling = ${cluster_partition_handling}
        net_ticktime = ${net_ticktime}
        | CONF
      require => File["${config_dir}/conf.d"],
    }
    if $erlang_cookie != undef {
      file { $cookie_file:
        ensure    => file,
        owner     => 'rabbitmq',
        group     => 'rabbitmq',
        mode      => '0400',
        content   => $erlang_cookie,
        show_diff => false,
      }
    }
    if $manage_service {
      File["${config_dir}/conf.d/40-pymco-cluster.conf"] ~> Service[$service_name]
      if $erlang_cookie != undef {
        File[$cookie_file] ~> Service[$service_name]
      }
    }
    if $cluster_join != undef {
      $q_join = shell_escape($cluster_join)
      exec { 'pymco-rabbitmq-join-cluster':
        command => "sh -c '${ctl} -q stop_app && ${ctl} -q join_cluster ${q_join}; rc=\$?; ${ctl} -q start_app; exit \$rc'",
        unless  => "${ctl} -q cluster_status --formatter json | grep -qF -- ${shell_escape("\"${cluster_join}\"")}",
        require => Exec['pymco-rabbitmq-stomp-plugin'],
        before  => Exec['pymco-rabbitmq-vhost'],
      }
      if $manage_service {
        Exec['pymco-rabbitmq-ready'] -> Exec['pymco-rabbitmq-join-cluster']
        Service[$service_name] -> Exec['pymco-rabbitmq-join-cluster']
      }
    }
  }
  if $nofile != undef and $manage_service {
    file { ["/etc/systemd/system/${service_name}.service.d"]:
      ensure => directory,
    }
    file { "/etc/systemd/system/${service_name}.service.d/pymco-limits.conf":
      ensure  => file,
      mode    => '0644',
      content => "[Service]\nLimitNOFILE=${nofile}\n",
    }
    ~> exec { 'pymco-rabbitmq-systemd-reload':
      command     => 'systemctl daemon-reload',
      refreshonly => true,
    }
    ~> Service[$service_name]
  }
  # ==== end of cluster members ====

  $q_vhost = shell_escape($vhost)
  $has_vhost = "${ctl} -q list_vhosts name | grep -qxF -- ${q_vhost}"
  if $present {
    exec { 'pymco-rabbitmq-vhost':
      command => "${ctl} -q add_vhost ${q_vhost}",
      unless  => $has_vhost,
      require => Exec['pymco-rabbitmq-stomp-plugin'],
    }

    $users.each |String $user, Pymco::Secret $secret| {
      $password = $secret ? {
        Sensitive => $secret.unwrap,
        default   => $secret,
      }
      # Debian's rabbitmqctl wrapper re-runs itself through `su -c "..."`,
      # where these characters would be expanded by the shell.
      if $password =~ /[$`"\\]/ {
        fail("pymco::middleware::rabbitmq: the password of ${user} must not contain \$, `, \" or \\")
      }
      $q_user = shell_escape($user)
      $q_password = shell_escape($password)
      exec { "pymco-rabbitmq-user-${user}":
        command => Sensitive("sh -c '${ctl} -q add_user ${q_user} ${q_password} || \
${ctl} -q change_password ${q_user} ${q_password}'"),
        unless  => Sensitive("${ctl} -q authenticate_user ${q_user} ${q_password}"),
        require => Exec['pymco-rabbitmq-vhost'],
      }
      exec { "pymco-rabbitmq-permissions-${user}":
        command => "${ctl} -q set_permissions -p ${q_vhost} ${q_user} '.*' '.*' '.*'",
        unless  => "${ctl} -q list_user_permissions ${q_user} | grep -qxF -- \"$(printf '%s\\t.*\\t.*\\t.*' ${q_vhost})\"",
        require => Exec["pymco-rabbitmq-user-${user}"],
      }
    }

    $exchanges = $collectives.map |$c| { ["${c}_broadcast", "${c}_directed"] }.flatten
    + ($reply_exchange ? { true => ['mcollective_reply'], default => [] })
    $definitions = "${config_dir}/pymco-exchanges-${regsubst($vhost, '[^A-Za-z0-9_.-]', '_', 'G')}.json"
    file { $definitions:
      ensure  => file,
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
      content => to_json_pretty({
          'exchanges' => $exchanges.map |$x| {
            {
              'name'        => $x,
              'vhost'       => $vhost,
              'type'        => 'topic',
              'durable'     => true,
              'auto_delete' => false,
              'internal'    => false,
              'arguments'   => {},
            }
          },
      }),
    }
    # One rabbitmqctl call checks them all: sh -c SCRIPT VHOST EXCHANGE...
    $script = [
      "x=\$(${ctl} -q list_exchanges -p \"\$0\" name) || exit 1",
      'for e; do printf \'%s\n\' "$x" | grep -qxF -- "$e" || exit 1; done',
    ].join('; ')
    $check = shell_join(['sh', '-c', $script, $vhost] + $exchanges)
    exec { 'pymco-rabbitmq-exchanges':
      command => "${ctl} -q import_definitions ${shell_escape($definitions)}",
      unless  => $check,
      require => [Exec['pymco-rabbitmq-vhost'], File[$definitions]],
    }
  } else {
    $users.each |String $user, Pymco::Secret $secret| {
      $q_user = shell_escape($user)
      exec { "pymco-rabbitmq-user-${user}":
        command => "${ctl} -q delete_user ${q_user}",
        onlyif  => "${ctl} -q list_users | cut -f1 | grep -qxF -- ${q_user}",
        require => Exec['pymco-rabbitmq-stomp-plugin'],
      }
    }
    exec { 'pymco-rabbitmq-vhost':
      command => "${ctl} -q delete_vhost ${q_vhost}",
      onlyif  => $has_vhost,
      require => Exec['pymco-rabbitmq-stomp-plugin'],
    }
    file { "${config_dir}/pymco-exchanges-${regsubst($vhost, '[^A-Za-z0-9_.-]', '_', 'G')}.json":
      ensure => absent,
    }
  }
}
