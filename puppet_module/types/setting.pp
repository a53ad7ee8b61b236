# @summary One value of server.cfg / client.cfg.
#
# A value is written on one `key = value` line, so strings must not hold line
# breaks (they would inject settings).  Arrays are joined with commas
# (`collectives = a,b`), booleans become `true`/`false`, and Sensitive values
# are unwrapped only inside the rendered file.
type Pymco::Setting = Variant[
  Pattern[/\A[^\r\n]*\z/],
  Integer,
  Float,
  Boolean,
  Array[Variant[Pattern[/\A[^\r\n,]*\z/], Integer], 1],
  Sensitive[Pattern[/\A[^\r\n]*\z/]],
]
