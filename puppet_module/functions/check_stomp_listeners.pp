# @summary Fails early when a broker class's STOMP listeners cannot work.
#
# Both broker classes take the same listener parameters (a plain port that
# may be switched off, an optional TLS port) and differ only in what TLS needs.
#
# @param klass The calling class, named in the messages.
# @param plain Whether plain STOMP listens.
# @param port The plain STOMP port.
# @param tls_port The STOMP-over-TLS port, if any.
# @param tls_needs The settings TLS needs, by parameter name (each must be set).
# @return [Undef] Nothing; it fails instead.
function pymco::check_stomp_listeners(
  String[1] $klass,
  Boolean $plain,
  Stdlib::Port $port,
  Optional[Stdlib::Port] $tls_port,
  Hash[String[1], Any, 1] $tls_needs,
) >> Undef {
  if !$plain and $tls_port =~ Undef {
    fail("${klass}: stomp_plain => false needs stomp_tls_port (else STOMP would not listen at all)")
  }
  if $tls_port =~ NotUndef {
    if Undef in $tls_needs.values {
      $names = $tls_needs.keys
      $listed = $names.length > 1 ? {
        true    => "${names[0, $names.length - 1].join(', ')} and ${names[-1]}",
        default => $names[0],
      }
      fail("${klass}: stomp_tls_port needs ${listed}")
    }
    if $plain and $tls_port == $port {
      fail("${klass}: stomp_tls_port and stomp_port are both ${port}")
    }
  }
  undef
}
