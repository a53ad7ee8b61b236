# @summary NATS as pymco's broker (`connector = nats`): one server or a cluster member, with per-collective permissions.
#
# Manages Debian's `nats-server` package, its configuration file and its
# service.  Two users share the fleet: nodes (`node_user`) may only read
# their collectives' broadcast and directed subjects
# (`<collective>.broadcast.agent.>`, `<collective>.node.>`) and publish
# replies (`<collective>.reply.>`) and registration
# (`<collective>.broadcast.agent.registration`); clients (`client_user`)
# may only publish requests and read replies.  NATS refuses everything else
# and pymco logs the refusal.  The same configuration as
# `scripts/broker-setup --nats` writes; the file is readable by the server's
# group only, as it holds the passwords.
#
# For a cluster, declare the class on every member with `routes` naming the
# other members' cluster ports; members then forward messages to each other
# and nodes may connect to any of them (`plugin.nats.servers` lists them all).
#
# `ensure => absent` stops the service and removes the configuration and,
# with `manage_package`, the package.
#
# @example One member of a three-server cluster
#   class { 'pymco::middleware::nats':
#     collectives     => ['mcollective', 'dc_east'],
#     routes          => ['nats-route://nats2.example.com:6222', 'nats-route://nats3.example.com:6222'],
#     node_password   => Sensitive('node-secret'),
#     client_password => Sensitive('client-secret'),
#   }
#
# @param ensure
#   `present` configures and runs the server; `absent` stops it and removes its configuration.
# @param manage_package
#   Whether to install (or, with `ensure => absent`, remove) nats-server from the OS packages.
# @param package_name
#   The nats-server package.
# @param manage_service
#   Whether to keep the server running (and restart it when its configuration changes).
# @param service_name
#   The server's service.
# @param config_file
#   The configuration file the service reads.
# @param group
#   The group the server runs as; it may read the configuration file.
# @param server_name
#   The server's name, unique in a cluster.
# @param bind
#   The address clients and routes connect to (`0.0.0.0`: every IPv4 interface).
# @param port
#   The client port.
# @param monitor_port
#   A monitoring (HTTP) port on 127.0.0.1 (unset: none).
# @param max_connections
#   Client connections the server accepts (one per pymcod node and per mco run).
# @param routes
#   The other cluster members' route URLs, `nats-route://host:port` (empty: a single server).
# @param cluster_port
#   The port the other members' routes connect to (with `routes`).
# @param cluster_name
#   The cluster's name, the same on every member.
# @param tls_cert
#   The server's certificate (PEM); with `tls_key`, clients must connect with TLS.
# @param tls_key
#   The server's private key (PEM), readable by `group`.
# @param tls_ca
#   The CA that signed the clients' certificates (and the server's), for `tls_verify`.
# @param tls_verify
#   Whether clients must present a certificate signed by `tls_ca`.
# @param collectives
#   The collectives the users get permissions for.
# @param node_user
#   The user pymcod nodes log in as.
# @param node_password
#   Its password (required with `ensure => present`).
# @param client_user
#   The user mco clients log in as.
# @param client_password
#   Its password (required with `ensure => present`).
# @param node_identities
#   Nodes that log in as themselves instead of `node_user` (identity => password):
#   each may read only the broadcast subjects and its own directed subject
#   (`<collective>.node.<identity>`) and publish replies and registration.
class pymco::middleware::nats (
  Enum['present', 'absent'] $ensure = 'present',
  Boolean $manage_package = true,
  String[1] $package_name = 'nats-server',
  Boolean $manage_service = true,
  String[1] $service_name = 'nats-server',
  Stdlib::Absolutepath $config_file = '/etc/nats-server.conf',
  String[1] $group = 'nats',
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $server_name = $facts['networking']['fqdn'],
  Stdlib::IP::Address::Nosubnet $bind = '0.0.0.0',
  Stdlib::Port $port = 4222,
  Optional[Stdlib::Port] $monitor_port = undef,
  Integer[1] $max_connections = 65536,
  Array[Pattern[/\Anats-route:\/\/[A-Za-z0-9_.:\[\]-]+\z/]] $routes = [],
  Stdlib::Port $cluster_port = 6222,
  Pattern[/\A[A-Za-z0-9_-]+\z/] $cluster_name = 'pymco',
  Optional[Stdlib::Absolutepath] $tls_cert = undef,
  Optional[Stdlib::Absolutepath] $tls_key = undef,
  Optional[Stdlib::Absolutepath] $tls_ca = undef,
  Boolean $tls_verify = false,
  Array[Pymco::Collective, 1] $collectives = ['mcollective'],
  Pattern[/\A[A-Za-z0-9_.@-]+\z/] $node_user = 'pymco-node',
  Optional[Pymco::Secret] $node_password = undef,
  Pattern[/\A[A-Za-z0-9_.@-]+\z/] $client_user = 'pymco-client',
  Optional[Pymco::Secret] $client_password = undef,
  Hash[Pymco::Identity, Pymco::Secret] $node_identities = {},
) {
  if $ensure == 'present' {
    if $node_password =~ Undef or $client_password =~ Undef {
      fail('pymco::middleware::nats: give node_password and client_password')
    }
    if ($tls_cert =~ Undef) != ($tls_key =~ Undef) or ($tls_verify and $tls_ca =~ Undef) {
      fail('pymco::middleware::nats: TLS needs tls_cert and tls_key (and tls_ca for tls_verify)')
    }
    if $manage_package {
      package { $package_name:
        ensure => installed,
        before => File[$config_file],
      }
    }
    $node_publish = $collectives.map |$c| { ["${c}.reply.>", "${c}.broadcast.agent.registration"] }.flatten
    $own_nodes = $node_identities.map |$identity, $password| {
      {
        'user'      => $identity,
        'password'  => $password.unwrap,
        'publish'   => $node_publish,
        'subscribe' => $collectives.map |$c| { ["${c}.broadcast.agent.>", "${c}.node.${identity}"] }.flatten,
      }
    }
    $users = [
      {
        'user'      => $node_user,
        'password'  => $node_password.unwrap,
        'publish'   => $node_publish,
        'subscribe' => $collectives.map |$c| { ["${c}.broadcast.agent.>", "${c}.node.>"] }.flatten,
      },
      {
        'user'      => $client_user,
        'password'  => $client_password.unwrap,
        'publish'   => $collectives.map |$c| { ["${c}.broadcast.agent.>", "${c}.node.>"] }.flatten,
        'subscribe' => $collectives.map |$c| { "${c}.reply.>" },
      },
    ] + $own_nodes
    $config = epp('pymco/nats.conf.epp', {
        'server_name'     => $server_name,
        'bind'            => $bind,
        'port'            => $port,
        'monitor_port'    => $monitor_port,
        'max_connections' => $max_connections,
        'cluster'         => empty($routes) ? {
          true    => undef,
          default => { 'name' => $cluster_name, 'port' => $cluster_port, 'routes' => $routes },
        },
        'tls'             => $tls_cert ? {
          undef   => undef,
          default => { 'cert' => $tls_cert, 'key' => $tls_key, 'ca' => pick($tls_ca, ''), 'verify' => $tls_verify },
        },
        'users'           => $users,
    })
    file { $config_file:
      ensure  => file,
      owner   => 'root',
      group   => $group,
      mode    => '0640',
      content => Sensitive($config),
    }
    if $manage_service {
      service { $service_name:
        ensure    => running,
        enable    => true,
        subscribe => File[$config_file],
      }
    }
  } else {
    if $manage_service {
      service { $service_name:
        ensure => stopped,
        enable => false,
        before => File[$config_file],
      }
    }
    file { $config_file:
      ensure => absent,
    }
    if $manage_package {
      package { $package_name:
        ensure  => absent,
        require => File[$config_file],
      }
    }
  }
}
