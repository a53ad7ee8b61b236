# @summary Settings of plugins, one hash per plugin.
#
# `{ 'puppet' => { 'command' => ... } }` becomes `plugin.puppet.command = ...`.
type Pymco::Plugin_settings = Hash[Pattern[/\A[A-Za-z0-9_]+\z/], Hash[Pymco::Setting_key, Optional[Pymco::Setting]]]
