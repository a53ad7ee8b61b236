# @summary The text of one setting as it appears after `key = ` in server.cfg / client.cfg.
#
# Sensitive values are unwrapped here, so the caller should only pass the result
# into content that is itself Sensitive (the config files are).
#
# @param value The setting's value.
# @return [String] The value as MCollective's config format spells it.
function pymco::config_value(Pymco::Setting $value) >> String {
  $plain = $value ? {
    Sensitive => $value.unwrap,
    default   => $value,
  }
  $plain ? {
    Array   => $plain.join(','),
    Boolean => String($plain),
    default => String($plain),
  }
}
