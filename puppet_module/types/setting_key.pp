# @summary A server.cfg / client.cfg key, e.g. `loglevel` or `plugin.puppet.command`.
type Pymco::Setting_key = Pattern[/\A[A-Za-z0-9_]+(\.[A-Za-z0-9_\-]+)*\z/]
