# @summary One member of the broker pool: a host name, or a hash of per-host settings.
#
# The hash overrides the pool-wide port, user, password and TLS settings of `pymco` for that host.
type Pymco::Broker = Variant[
  Stdlib::Host,
  Struct[{
    host                   => Stdlib::Host,
    Optional[port]         => Stdlib::Port,
    Optional[user]         => String[1],
    Optional[password]     => Pymco::Secret,
    Optional[ssl]          => Boolean,
    Optional[ssl_ca]       => Stdlib::Absolutepath,
    Optional[ssl_cert]     => Stdlib::Absolutepath,
    Optional[ssl_key]      => Stdlib::Absolutepath,
    Optional[ssl_fallback] => Boolean,
  }],
]
