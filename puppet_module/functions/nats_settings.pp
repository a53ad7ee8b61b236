# @summary The `plugin.nats.*` settings of a broker pool (connector `nats`).
#
# NATS takes one list of server URLs and one set of credentials and TLS files
# for all of them, so a pool member may only set its own `port` and `ssl`
# (`tls://` for it); anything else fails here rather than being dropped.
#
# @param brokers The pool members as hashes (`host`, optional `port`, `ssl`).
# @param port The port of members without their own.
# @param user The user, written only along with a password.
# @param password The password (optional: NATS may run without authentication).
# @param token An authentication token.
# @param ssl Whether members use TLS unless they say otherwise.
# @param ssl_ca The CA file for TLS.
# @param ssl_cert A client certificate for TLS.
# @param ssl_key The key of `ssl_cert`.
# @param randomize Whether to shuffle the servers.
# @return [Pymco::Settings] The settings to merge into server.cfg and client.cfg.
function pymco::nats_settings(
  Array[Hash, 1] $brokers,
  Stdlib::Port $port,
  String[1] $user,
  Optional[Pymco::Secret] $password,
  Optional[Pymco::Secret] $token,
  Boolean $ssl,
  Optional[Stdlib::Absolutepath] $ssl_ca,
  Optional[Stdlib::Absolutepath] $ssl_cert,
  Optional[Stdlib::Absolutepath] $ssl_key,
  Boolean $randomize,
) >> Pymco::Settings {
  $servers = $brokers.map |Hash $broker| {
    $extra = $broker.keys - ['host', 'port', 'ssl']
    unless $extra.empty {
      fail("pymco: NATS broker ${broker['host']} sets ${extra.join(', ')}: with connector nats only port and ssl are per host (use broker_user, broker_password, broker_ssl_*)")
    }
    $scheme = pick($broker['ssl'], $ssl) ? { true => 'tls', default => 'nats' }
    "${scheme}://${broker['host']}:${pick($broker['port'], $port)}"
  }
  $tls = $servers.any |String $url| { $url =~ /\Atls:/ } ? {
    true    => {
      'plugin.nats.ssl'      => true,
      'plugin.nats.ssl.ca'   => $ssl_ca,
      'plugin.nats.ssl.cert' => $ssl_cert,
      'plugin.nats.ssl.key'  => $ssl_key,
    },
    default => {},
  }
  $settings = {
    'plugin.nats.servers'   => $servers,
    'plugin.nats.randomize' => $randomize,
    'plugin.nats.user'      => $password ? { undef => undef, default => $user },
    'plugin.nats.password'  => $password ? { Sensitive => $password, undef => undef, default => Sensitive($password) },
    'plugin.nats.token'     => $token ? { Sensitive => $token, undef => undef, default => Sensitive($token) },
  }
  $settings + $tls
}
