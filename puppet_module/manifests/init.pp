# @summary Rolls pymco out: the pymcod daemon, the mco client, and the settings both share.
#
# The entry point.  It installs pymco (`pymco::install`: the Debian package
# `scripts/build` makes, or pip into a virtualenv), then
# declares the server role (`pymco::server`: server.cfg, plugins, facts, the
# daemon as a service) and/or the client role (`pymco::client`: client.cfg and
# per-user files).  Everything both roles need to agree on lives here: the
# collectives, the broker pool, the security provider and its key.  The broker
# itself is a separate class (`pymco::middleware::rabbitmq`), usually on
# another node.
#
# Every parameter can come from Hiera (`pymco::psk`, `pymco::brokers`, ...);
# the role classes are tuned through their own keys (`pymco::server::plugin_settings`).
#
# @example A node answering mco, talking to two brokers
#   class { 'pymco':
#     collectives     => ['mcollective', 'dc_east'],
#     brokers         => ['mq1.example.com', 'mq2.example.com'],
#     broker_password => Sensitive('secret'),
#     psk             => Sensitive('a-long-shared-secret'),
#   }
#
# @example Remove pymco again (stops the daemon, removes configs, units and the virtualenv)
#   class { 'pymco': ensure => absent, client => true }
#
# @example A node on two NATS servers over TLS with token authentication
#   class { 'pymco':
#     connector     => 'nats',
#     brokers       => ['nats1.example.com', 'nats2.example.com'],
#     broker_ssl    => true,
#     broker_ssl_ca => '/etc/ssl/certs/nats-ca.pem',
#     broker_token  => Sensitive('a-nats-token'),
#     psk           => Sensitive('a-long-shared-secret'),
#   }
#
# @param ensure
#   `present` installs and runs everything; `absent` stops the daemon and removes
#   what this module created (the broker is left alone).
# @param server
#   Whether this node runs pymcod (`pymco::server`).
# @param client
#   Whether this node gets the mco client configuration (`pymco::client`).
# @param confdir
#   Where server.cfg, client.cfg and (by default) the facts file live.
# @param libdir
#   The site plugin folder: `pymco::plugin` puts agents in `<libdir>/agents` and
#   DDLs in `<libdir>/ddl`; both configs list it as `libdir`.
# @param install_method
#   `package`: the `pymco` Debian package (a virtualenv under /opt/pymco), from
#   the node's apt repositories or from the .deb at `package_source`; removal
#   purges it.  `pip`: pip installs `package_source` into `venv`.
# @param package_name
#   The Debian package's name.
# @param venv
#   Where pymco lives (`<venv>/bin/pymcod`, `<venv>/bin/mco`): /opt/pymco, the
#   package's virtualenv; with `install_method => 'pip'` any virtualenv.
# @param python
#   The Python interpreter that creates the virtualenv of `pip` (3.11 or later).
# @param python_packages
#   OS packages that interpreter needs to create a virtualenv (module data: `python3-venv` on Debian).
# @param package_source
#   `package`: undef to install from the node's apt repositories (a local
#   repository serving the .deb), or the path of the .deb on the node.
#   `pip` (required: pymco is not on PyPI): a local path (a source checkout, a
#   wheel or an sdist) or the URL of a wheel or sdist.  pip runs when the
#   virtualenv's pymco came from elsewhere or has another version, so to roll
#   out new code from the same checkout, raise its version (or pin `package_version`).
# @param package_version
#   A version to pin: the Debian version (`0.1.0-1`) with `package`, which also
#   upgrades to it; with `pip` the installed version must match.  undef accepts
#   whatever is installed.
# @param pip_options
#   Extra options for `pip install`, e.g. `['--no-index', '--find-links', '/srv/wheelhouse']`.
# @param collectives
#   The collectives this node is in; the first one is the main collective unless `main_collective` says otherwise.
# @param main_collective
#   The collective used when a request names none; must be one of `collectives`.
# @param connector
#   The middleware connector.  `nats` (pymco only) writes one
#   `plugin.nats.servers` list (`tls://` for members with TLS) and pool-wide
#   `plugin.nats.user`/`password`/`token`/`ssl.*` instead of a numbered pool.
# @param brokers
#   The broker pool, tried in order (or at random with `broker_randomize`).
#   Each entry is a host name or a hash overriding `port`, `user`,
#   `password`, `ssl`, `ssl_ca`, `ssl_cert`, `ssl_key`, `ssl_fallback` for that host.
#   With `nats` a hash may only set `port` and `ssl`: NATS takes one set of
#   credentials and TLS files for the whole pool.
# @param broker_port
#   The port of every pool member that does not set its own (unset: 61613,
#   STOMP, or 4222 with connector `nats`).
# @param broker_user
#   The broker user of every pool member that does not set its own.
# @param broker_password
#   The broker password of every pool member that does not set its own
#   (required by the STOMP connectors; with `nats` optional, and the user is
#   written only along with it).
# @param broker_token
#   A NATS authentication token (connector `nats` only).
# @param broker_ssl
#   Whether pool members use TLS unless they say otherwise.
# @param broker_ssl_ca
#   The CA file for TLS to the brokers (unset: the system's CAs).
# @param broker_ssl_cert
#   A client certificate for TLS to the brokers (needs `broker_ssl_key`).
# @param broker_ssl_key
#   The key of `broker_ssl_cert`.
# @param broker_randomize
#   Whether to pick pool members at random instead of in order.
# @param rabbitmq_vhost
#   The RabbitMQ vhost (connector `rabbitmq` only).
# @param securityprovider
#   The message security provider.  Unset, it is `x509` where the node has a
#   Puppet certificate, key and CA (fact `pymco_puppet_ssl`; the provider then
#   signs with them), else `psk`.
# @param psk
#   The pre-shared key of the `psk` provider: the same on every node and client of the collective.
# @param common_settings
#   Extra settings written to both server.cfg and client.cfg (`key => value`;
#   `key => undef` drops a default).
class pymco (
  Enum['present', 'absent'] $ensure = 'present',
  Boolean $server = true,
  Boolean $client = false,
  Stdlib::Absolutepath $confdir = '/etc/pymco',
  Stdlib::Absolutepath $libdir = '/usr/local/share/pymco',
  Enum['package', 'pip'] $install_method = 'package',
  String[1] $package_name = 'pymco',
  Stdlib::Absolutepath $venv = '/opt/pymco',
  Stdlib::Absolutepath $python = '/usr/bin/python3',
  Array[String[1]] $python_packages = [],
  Optional[Pymco::Package_source] $package_source = undef,
  Optional[Pattern[/\A[0-9][0-9A-Za-z.+!-]*\z/]] $package_version = undef,
  Array[String[1]] $pip_options = [],
  Array[Pymco::Collective, 1] $collectives = ['mcollective'],
  Optional[Pymco::Collective] $main_collective = undef,
  Pymco::Connector $connector = 'rabbitmq',
  Array[Pymco::Broker, 1] $brokers = ['localhost'],
  Optional[Stdlib::Port] $broker_port = undef,
  String[1] $broker_user = 'mcollective',
  Optional[Pymco::Secret] $broker_password = undef,
  Optional[Pymco::Secret] $broker_token = undef,
  Boolean $broker_ssl = false,
  Optional[Stdlib::Absolutepath] $broker_ssl_ca = undef,
  Optional[Stdlib::Absolutepath] $broker_ssl_cert = undef,
  Optional[Stdlib::Absolutepath] $broker_ssl_key = undef,
  Boolean $broker_randomize = false,
  String[1] $rabbitmq_vhost = '/mcollective',
  Optional[Pymco::Securityprovider] $securityprovider = undef,
  Optional[Pymco::Secret] $psk = undef,
  Pymco::Settings $common_settings = {},
) {
  $main = pick($main_collective, $collectives[0])
  $puppet_ssl = $facts['pymco_puppet_ssl']
  $provider = pick($securityprovider, $puppet_ssl ? { undef => 'psk', default => 'x509' })
  if $ensure == 'present' {
    unless $main in $collectives {
      fail("pymco: main_collective '${main}' is not one of the collectives (${collectives.join(', ')})")
    }
    if $provider == 'psk' and $psk =~ Undef {
      fail('pymco: securityprovider psk needs a key: set pymco::psk (a Sensitive string, e.g. from Hiera)')
    }
    if ($broker_ssl_cert =~ Undef) != ($broker_ssl_key =~ Undef) {
      fail('pymco: broker_ssl_cert and broker_ssl_key go together: set both or neither')
    }
    if $broker_token =~ NotUndef and $connector != 'nats' {
      fail("pymco: broker_token is for connector nats, not ${connector}")
    }
  }
  $port = pick($broker_port, $connector ? { 'nats' => 4222, default => 61613 })
  $hosts = $brokers.map |Pymco::Broker $entry| {
    $entry ? {
      Stdlib::Host => { 'host' => $entry },
      default      => $entry,
    }
  }

  # One hash per pool member, numbered from 1 as MCollective's plugin.<connector>.pool.N.*
  $pool = $connector ? { 'nats' => [], default => $hosts }.map |Integer $index, Hash $broker| {
    $password = $broker['password'] ? {
      undef   => $broker_password,
      default => $broker['password'],
    }
    if $ensure == 'present' and $password =~ Undef {
      fail("pymco: broker ${broker['host']} has no password: set pymco::broker_password or its own password")
    }
    $ssl = $broker['ssl'] ? {
      undef   => $broker_ssl,
      default => $broker['ssl'],
    }
    $prefix = "plugin.${connector}.pool.${$index + 1}"
    $tls = $ssl ? {
      true    => {
        "${prefix}.ssl"          => true,
        "${prefix}.ssl.ca"       => [$broker['ssl_ca'], $broker_ssl_ca].filter |$v| { $v =~ NotUndef }[0],
        "${prefix}.ssl.cert"     => [$broker['ssl_cert'], $broker_ssl_cert].filter |$v| { $v =~ NotUndef }[0],
        "${prefix}.ssl.key"      => [$broker['ssl_key'], $broker_ssl_key].filter |$v| { $v =~ NotUndef }[0],
        "${prefix}.ssl.fallback" => $broker['ssl_fallback'],
      },
      default => {},
    }
    $member = {
      "${prefix}.host"     => $broker['host'],
      "${prefix}.port"     => pick($broker['port'], $port),
      "${prefix}.user"     => pick($broker['user'], $broker_user),
      "${prefix}.password" => $password ? {
        Sensitive => $password,
        undef     => undef,
        default   => Sensitive($password),
      },
    }
    $member + $tls
  }.reduce({}) |Hash $memo, Hash $member| { $memo + $member }

  $vhost = $connector ? {
    'rabbitmq' => { 'plugin.rabbitmq.vhost' => $rabbitmq_vhost },
    default    => {},
  }
  $transport = $connector ? {
    'nats'  => pymco::nats_settings($hosts, $port, $broker_user, $broker_password, $broker_token, $broker_ssl,
      $broker_ssl_ca, $broker_ssl_cert, $broker_ssl_key, $broker_randomize),
    default => { "plugin.${connector}.pool.size" => $brokers.length, "plugin.${connector}.randomize" => $broker_randomize },
  }
  $security = $provider ? {
    'psk'   => {
      'plugin.psk' => $psk ? {
        Sensitive => $psk,
        undef     => undef,
        default   => Sensitive($psk),
      },
    },
    'x509'  => $puppet_ssl ? {
      undef   => {},
      default => {
        'plugin.x509.ssldir'   => $puppet_ssl['ssldir'],
        'plugin.x509.certname' => $puppet_ssl['certname'],
        # the Puppet CA pymcod fetches the CRL from (README: Revocation)
        'plugin.x509.ca_server' => $puppet_ssl['ca_server'],
      },
    },
    default => {},
  }

  # What server.cfg and client.cfg share; the role classes add their own keys.
  $shared_settings = {
    'collectives'                      => $collectives,
    'main_collective'                  => $main,
    'libdir'                           => $libdir,
    'connector'                        => $connector,
    'securityprovider'                 => $provider,
  } + $transport + $vhost + $security + $pool + $common_settings

  if $server or $client {
    contain pymco::install
  }
  if $server {
    contain pymco::server
  }
  if $client {
    contain pymco::client
  }
  # The role classes order themselves against pymco::install.
}
